# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What federation_info reports for one cluster: gateways, their address, certificate expiry, which exports
and imports are applied, and, when asked, the state of its links (probe.py) and a JMESPath query over it all
(query.py). Read-only, a handful of requests; an unreachable cluster is reported, not a failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.meshfed.federation.plugins.module_utils.federation_module import (
    CORE_KINDS, CREDENTIAL_ARG_SPEC, load_federation)
from ansible_collections.meshfed.federation.plugins.module_utils.model import DISCOVER, export_host, find_export
from ansible_collections.meshfed.federation.plugins.module_utils.probe import (
    Target, UNREACHABLE, client_context, is_down, probe_links, utc_timestamp)
from ansible_collections.meshfed.federation.plugins.module_utils.query import HAS_JMESPATH, QueryError, run_query
from ansible_collections.meshfed.federation.plugins.module_utils.render.labels import owner_selector, selector_string
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    EGRESS, INGRESS, credential_secret_name, gateway_name, ingress_address_from_service)
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import export_object_name
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import (
    PeerAddressError, resolve_peer_address)

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

try:
    from kubernetes.dynamic.exceptions import NotFoundError
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False


class ClusterReader(object):
    """The few reads the report needs, each one request."""

    def __init__(self, client, settings):
        self.client = client
        self.settings = settings

    def get(self, api_version, kind, name, namespace):
        resource = self.client.resource(kind, api_version)
        try:
            return resource.get(name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def owned_names(self, api_version, kind, role):
        resource = self.client.resource(kind, api_version)
        labels = owner_selector(self.settings.federation_name, role)
        items = resource.get(label_selector=selector_string(labels)).to_dict().get("items", [])
        return {(i["metadata"].get("namespace"), i["metadata"]["name"]) for i in items}


def gateway_state(reader, direction):
    ns = reader.settings.gateway_namespace
    deployment = reader.get(CORE_KINDS["Deployment"], "Deployment", gateway_name(direction), ns)
    if deployment is None:
        return {"deployed": False, "ready": False, "replicas": 0, "available_replicas": 0}
    status = deployment.get("status") or {}
    available = status.get("availableReplicas") or 0
    return {"deployed": True, "ready": available >= 1, "replicas": status.get("replicas") or 0,
            "available_replicas": available}


def certificate_state(secret, now):
    if not secret or "tls.crt" not in (secret.get("data") or {}):
        return None
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    not_after = cert.not_valid_after_utc
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "x"), "not_after": not_after.isoformat(),
            "days_left": (not_after - now).days}


def cluster_report(federation, cluster, reader, now):
    settings = federation.settings
    report = {"name": cluster.name, "identity": cluster.identity, "reachable": True}
    ns = settings.gateway_namespace
    report["ingress_gateway"] = gateway_state(reader, INGRESS)
    report["egress_gateway"] = gateway_state(reader, EGRESS)
    if cluster.gateway_address != DISCOVER:
        report["ingress_gateway"]["address"] = {"address": cluster.gateway_address.address,
                                                "port": cluster.gateway_address.port}
    else:
        service = reader.get(CORE_KINDS["Service"], "Service", gateway_name(INGRESS), ns)
        report["ingress_gateway"]["address"] = ingress_address_from_service(service)
    secret = reader.get(CORE_KINDS["Secret"], "Secret", credential_secret_name(cluster), ns)
    report["certificate"] = certificate_state(secret, now)
    exported = reader.owned_names(settings.istio_api_version, "Gateway", "export") if cluster.exports else set()
    imported = reader.owned_names(settings.istio_api_version, "VirtualService", "import") if cluster.imports else set()
    report["exports"] = [{
        "name": e.name, "protocol": e.protocol, "service": "%s/%s:%d" % e.service,
        "subset": e.subset.name if e.subset else None, "consumers": list(e.consumers), "probe_path": e.probe_path,
        "applied": (ns, export_object_name(e)) in exported} for e in cluster.exports]
    report["imports"] = [{
        "name": i.name, "namespace": i.namespace, "port": i.port, "protocol": i.protocol,
        "sources": [{"cluster": s.cluster, "export": s.export, "weight": 100 if s.weight is None else s.weight}
                    for s in i.sources],
        "local_weight": i.local.weight if i.local else None,
        "applied": (i.namespace, i.name) in imported} for i in cluster.imports]
    return report


def link_targets(federation, cluster, discovered):
    """Per (import, source) of ``cluster``: its link's description and the probe Target, or, for a peer whose
    gateway address is unknown or refused (the import renderer's resolution), the reason instead."""
    addresses = {}
    for peer_name in sorted({s.cluster for i in cluster.imports for s in i.sources}):
        try:
            addresses[peer_name] = resolve_peer_address(federation, peer_name, discovered)
        except PeerAddressError as error:
            addresses[peer_name] = str(error)
    links = []
    for imported in cluster.imports:
        for source in imported.sources:
            peer = federation.clusters[source.cluster]
            export = find_export(federation, source.cluster, source.export)
            address = addresses[source.cluster]
            known = not isinstance(address, str)
            link = {"import": imported.name, "namespace": imported.namespace, "peer": peer.name,
                    "export": export.name, "protocol": export.protocol, "sni": export_host(export, peer),
                    "address": address.address if known else None, "port": address.port if known else None}
            target = Target(address.address, address.port, link["sni"], peer.identity,
                            export.probe_path) if known else address
            links.append((link, target))
    return links


def probe_cluster_links(module, federation, cluster):
    """``cluster.links`` and ``cluster.links_down`` of the report: every link of the cluster probed."""
    params = module.params
    described = link_targets(federation, cluster, params["federation"].get("discovered_addresses") or {})
    if described:
        credential = params["credential"]
        try:
            context = client_context(credential["cert_path"], credential["key_path"], credential["ca_path"])
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            module.fail_json(msg="cluster %s: cannot probe its links with the credential %s, %s, %s: %s"
                             % (cluster.name, credential["cert_path"], credential["key_path"], credential["ca_path"],
                                getattr(error, "strerror", None) or error))
        targets = [target for dummy, target in described if isinstance(target, Target)]
        probed = iter(probe_links(targets, context, params["probe_timeout"], params["probe_expiry_days"]))
    links = []
    for link, target in described:
        if isinstance(target, Target):
            link.update(next(probed))
        else:
            link.update(state=UNREACHABLE, handshake_ms=None, http_status=None, peer_identity=None,
                        peer_certificate_days_left=None, detail=target, probed_at=utc_timestamp())
        links.append(link)
    return {"links": links, "links_down": sum(1 for link in links if is_down(link))}


FEDERATION_INFO_ARG_SPEC = dict(AUTH_ARG_SPEC, federation=dict(type="dict", required=True),
                                cluster=dict(type="str", required=True),
                                probe=dict(type="bool", default=False),
                                probe_timeout=dict(type="float", default=3.0),
                                probe_expiry_days=dict(type="int", default=14),
                                query=dict(type="str"), **CREDENTIAL_ARG_SPEC)
FEDERATION_INFO_MODULE = dict(argument_spec=FEDERATION_INFO_ARG_SPEC, required_if=[("probe", True, ["credential"])],
                              supports_check_mode=True)


def run_federation_info(module):
    """Report one cluster of the federation (module.exit_json); see the federation_info module."""
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"))
    if module.params["query"] is not None and not HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"))
    if module.params["probe"] and not module.params["probe_timeout"] > 0:
        module.fail_json(msg="probe_timeout must be a positive number of seconds, not %s" % module.params["probe_timeout"])
    federation = load_federation(module)
    name = module.params["cluster"]
    cluster = federation.clusters[name]
    auth = {k: module.params[k] for k in AUTH_ARG_SPEC if module.params.get(k) is not None}
    try:
        reader = ClusterReader(get_api_client(**auth), federation.settings)
        report = cluster_report(federation, cluster, reader, datetime.datetime.now(datetime.timezone.utc))
    except Exception as error:  # pylint: disable=broad-except
        # an unreachable cluster is a fact to report, not a failure: status.yml shows every cluster
        report = {"name": name, "identity": cluster.identity, "reachable": False,
                  "error": "cluster %s: %s" % (name, error), "ingress_gateway": {"ready": False, "address": None},
                  "egress_gateway": {"ready": False}, "certificate": None, "exports": [], "imports": []}
    if module.params["probe"]:
        # the links do not need the cluster's API: they are probed whatever it answered
        report.update(probe_cluster_links(module, federation, cluster))
    result = {"changed": False, "cluster": report}
    if module.params["query"] is not None:
        try:
            result["query_result"] = run_query(module.params["query"], report)
        except QueryError as error:
            module.fail_json(msg=str(error), cluster=report)
    module.exit_json(**result)
