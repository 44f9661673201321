# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What federation_info reports for one cluster: gateways, their address, certificate expiry, which exports
and imports are applied, and, when asked, the state of its links (observe/probe.py) and a JMESPath query over it all
(observe/query.py). Read-only, a handful of requests; an unreachable cluster is reported, not a failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import (
    ClusterClient, ClusterError, kubernetes_missing)
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import auth_params
from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import kind_api_version
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owner_selector
from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import balanced
from ansible_collections.meshfed.federation.plugins.module_utils.model.limits import is_drained, quota_data
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    credential_secret_name, EGRESS, export_object_name, gateway_name, INGRESS, probe_caller)
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import (
    cluster_of, find_export, grant_for, peer_parties)
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import DISCOVER
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_model import (
    address_data, cluster_summary)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.validated_model import load_federation
from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import (
    discovered_fact, source_clusters, ingress_address_from_service, ingress_service, gateway_address_of, GatewayAddressError)
from ansible_collections.meshfed.federation.plugins.module_utils.observe.serving import (
    destination_health, ready_pods, serving)
from ansible_collections.meshfed.federation.plugins.module_utils.observe.probe import (
    client_context, DRAINED, is_down, probe_links, Target, UNREACHABLE, utc_timestamp)
from ansible_collections.meshfed.federation.plugins.module_utils.observe.query import (
    HAS_JMESPATH, QueryError, run_query)
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import party_ca


def core_object(kind, name, namespace):
    return {"apiVersion": kind_api_version(kind, ""), "kind": kind, "metadata": {"name": name, "namespace": namespace}}


def owned_names(client, settings, kind, role):
    """(namespace, name) of the objects of one kind this federation's role owns: one request."""
    items = client.list_owned(kind_api_version(kind, settings.istio_api_version), kind,
                              owner_selector(settings.federation_name, role))
    return set((i["metadata"].get("namespace"), i["metadata"]["name"]) for i in items)


def gateway_state(client, settings, direction):
    deployment = client.get(core_object("Deployment", gateway_name(direction), settings.gateway_namespace))
    if deployment is None:
        return {"deployed": False, "ready": False, "replicas": 0, "available_replicas": 0}
    status = deployment.get("status") or {}
    available = status.get("availableReplicas") or 0
    return {"deployed": True, "ready": available >= 1, "replicas": status.get("replicas") or 0,
            "available_replicas": available}


def certificate_state(secret, now):
    if not secret or "tls.crt" not in (secret.get("data") or {}):
        return None
    cert = pki.load_cert(base64.b64decode(secret["data"]["tls.crt"]))
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "x"), "not_after": cert.not_valid_after_utc.isoformat(),
            "days_left": pki.days_left(cert, now)}


def cluster_report(federation, cluster, client, now):
    """The cluster's summary (federation.cluster_summary) with what its API says: gateways, certificate, which
    exports and imports are applied; the ingress address is the discovered one where the inventory says so."""
    settings = federation.settings
    ns = settings.gateway_namespace
    report = dict(cluster_summary(cluster), reachable=True)
    report["ingress_gateway"] = gateway_state(client, settings, INGRESS)
    report["egress_gateway"] = gateway_state(client, settings, EGRESS)
    if cluster.gateway_address != DISCOVER:
        report["ingress_gateway"]["address"] = address_data(cluster.gateway_address)
    else:
        report["ingress_gateway"]["address"] = ingress_address_from_service(client.get(ingress_service(ns)))
    report["certificate"] = certificate_state(client.get(core_object("Secret", credential_secret_name(cluster), ns)),
                                              now)
    exported = owned_names(client, settings, "Gateway", "export") if cluster.exports else set()
    imported = owned_names(client, settings, "VirtualService", "import") if cluster.imports else set()
    for summary, export in zip(report["exports"], cluster.exports):
        summary["applied"] = (ns, export_object_name(export)) in exported
    read = {}
    for summary, imp in zip(report["imports"], cluster.imports):
        summary["applied"] = (imp.namespace, imp.name) in imported
        if balanced(imp) and imp.local is not None:
            if imp.namespace not in read:  # one LIST of Services and one of Pods per namespace
                read[imp.namespace] = (
                    dict(((s.get("metadata") or {}).get("name"), s)
                         for s in client.list_namespace("v1", "Service", imp.namespace)),
                    client.list_namespace("v1", "Pod", imp.namespace))
            summary["local_ready"] = local_ready(imp, *read[imp.namespace])
    return report


def local_ready(imported, services, pods):
    """How many pods of a weighted or failover import's local copy are Ready: its Service's selector and the
    subset's labels (0 without the Service)."""
    selector = ((services.get(imported.name) or {}).get("spec") or {}).get("selector")
    if not selector:
        return 0
    selector = dict(selector, **dict(imported.local.subset.labels if imported.local.subset else {}))
    return ready_pods(pods, selector)


def import_serving(report):
    """Each import's ``serving``, ``failing_over``, ``failing`` and ``health`` (observe/serving.py), from its local
    copy's ready pods and its links' probes; and the cluster's ``imports_failing_over``."""
    links = report.get("links") or []
    for summary in report["imports"]:
        by_source = dict((s["cluster"], next((link for link in links if (link["import"], link["namespace"], link["peer"])
                                              == (summary["name"], summary["namespace"], s["cluster"])), None))
                         for s in summary["sources"])
        summary.update(serving(summary, destination_health(summary.get("local_ready"), by_source)))
    report["imports_failing_over"] = sum(1 for summary in report["imports"] if summary["failing_over"])


def unreachable_report(cluster, error):
    return dict(cluster_summary(cluster), reachable=False, error=str(error),
                ingress_gateway={"ready": False, "address": None}, egress_gateway={"ready": False},
                certificate=None, exports=[], imports=[])


def link_targets(federation, cluster, discovered):
    """Per (import, source) of ``cluster``: its link's description and the probe Target, or, for a peer whose
    gateway address is unknown or refused (discovery.gateway_address_of), the reason instead."""
    addresses = {}
    for source in source_clusters(cluster):
        try:
            addresses[source] = gateway_address_of(federation, source, discovered)
        except GatewayAddressError as error:
            addresses[source] = str(error)
    links = []
    for imported in cluster.imports:
        for source in imported.sources:
            peer = cluster_of(federation, source.cluster)
            export = find_export(federation, source.cluster, source.export)
            address = addresses[source.cluster]
            known = not isinstance(address, str)
            grant = grant_for(export, cluster.name)
            link = {"import": imported.name, "namespace": imported.namespace, "peer": peer.name,
                    "export": export.name, "protocol": export.protocol, "sni": grant.host,
                    "address": address.address if known else None, "port": address.port if known else None,
                    "quota": quota_data(grant.quota), "drained": is_drained(grant)}
            target = Target(address.address, address.port, link["sni"], peer.identity, export.probe_path,
                            None if peer.party == cluster.party else peer.party,
                            probe_caller(federation.settings.trust_domain, grant.callers)) if known else address
            links.append((link, None if link["drained"] else target))
    return links


def drained_link(link):
    """What a drained link reports instead of a probe: the exporter refuses it on purpose (a probe would only show
    the refusal)."""
    return dict(state=DRAINED, handshake_ms=None, http_status=None, peer_identity=None,
                peer_certificate_days_left=None, probed_at=utc_timestamp(),
                detail="%s drained this grant (state: drained): new %s are refused until it is active again"
                % (link["peer"], "requests (403)" if link["protocol"] == "http" else "connections"))


def trusted_cas(federation, party, credential):
    """The CAs a probe of ``party``'s gateways trusts (PEM text), None for the cluster's own CA file: what the
    gateway's own credential for that party holds (render/private_gateway.party_ca)."""
    if party is None:
        return None
    paths = credential.get("party_ca_paths") or {}
    if party not in paths:
        return party_ca(federation, party, {"party_cas": {}})
    with open(paths[party]) as pem:
        return party_ca(federation, party, {"party_cas": {party: pem.read()}})


def probe_cluster_links(module, federation, cluster):
    """``cluster.links`` and ``cluster.links_down`` of the report: every link of the cluster probed."""
    params = module.params
    described = link_targets(federation, cluster, params["peer_addresses"])
    if described:
        credential = params["credential"]
        try:
            contexts = dict((party, client_context(credential["cert_path"], credential["key_path"], credential["ca_path"],
                                                   trusted_cas(federation, party, credential)))
                            for party in [None] + peer_parties(federation, cluster))
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            module.fail_json(msg="cluster %s: cannot probe its links with the credential %s, %s, %s: %s"
                             % (cluster.name, credential["cert_path"], credential["key_path"], credential["ca_path"],
                                getattr(error, "strerror", None) or error))
        targets = [target for dummy, target in described if isinstance(target, Target)]
        probed = iter(probe_links(targets, lambda target: contexts[target.trust], params["probe_timeout"],
                                  params["probe_expiry_days"]))
    links = []
    for link, target in described:
        if isinstance(target, Target):
            link.update(next(probed))
        elif link["drained"]:
            link.update(drained_link(link))
        else:
            link.update(state=UNREACHABLE, handshake_ms=None, http_status=None, peer_identity=None,
                        peer_certificate_days_left=None, detail=target, probed_at=utc_timestamp())
        link["down"] = is_down(link)
        links.append(link)
    return {"links": links, "links_down": sum(1 for link in links if link["down"])}


def run_federation_info(module):
    """Report one cluster of the federation (module.exit_json); see the federation_info module."""
    if kubernetes_missing():
        module.fail_json(msg=kubernetes_missing())
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"))
    if module.params["query"] is not None and not HAS_JMESPATH:
        module.fail_json(msg=missing_required_lib("jmespath"))
    if module.params["probe"] and not module.params["probe_timeout"] > 0:
        module.fail_json(msg="probe_timeout must be a positive number of seconds, not %s" % module.params["probe_timeout"])
    federation = load_federation(module)
    cluster = federation.clusters[module.params["cluster"]]
    try:
        client = ClusterClient(cluster.name, auth_params(module.params))
        report = cluster_report(federation, cluster, client, pki.utcnow())
    except ClusterError as error:
        # an unreachable cluster is a fact to report, not a failure: status.yml shows every cluster
        report = unreachable_report(cluster, error)
    if module.params["probe"]:
        # the links do not need the cluster's API: they are probed whatever it answered
        report.update(probe_cluster_links(module, federation, cluster))
    import_serving(report)
    result = {"changed": False, "cluster": report}
    if cluster.gateway_address == DISCOVER and report["reachable"]:
        result.update(discovered_fact(report["ingress_gateway"]["address"]))
    if module.params["query"] is not None:
        try:
            result["query_result"] = run_query(module.params["query"], report)
        except QueryError as error:
            module.fail_json(msg=str(error), cluster=report)
    module.exit_json(**result)
