# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exports of one cluster: what its private ingress gateway serves, and to whom.

Each export gets its own Gateway with one server per consumer party, selected by SNI (``<export>.<identity>`` for
the exporter's own party, ``<export>.<party>.<identity>`` for a peer party), trusting that party's CA only, whose
``tls.subjectAltNames`` lists only the consumers granted the export: the TLS handshake itself refuses every other
certificate. An AuthorizationPolicy per export then allows each consumer's certificate principal on its server's SNI,
and for http only the methods and paths granted to it, and only the callers granted (the caller header the
consumer's egress gateway sets), in the same rule: a consumer cannot claim another consumer's callers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import kind_api_version
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owned_labels
from ansible_collections.meshfed.federation.plugins.module_utils.model.istio_version import separates_ca
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    CALLER_HEADER, caller_principal, CONSUMER_HEADER, CONSUMER_HOST_HEADER, export_deny_name, export_object_name,
    gateway_principal, INGRESS, local_rule_name, service_fqdn, short_name)
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import (
    consumer_trust_domain, known_grants)
from ansible_collections.meshfed.federation.plugins.module_utils.render import istio
from ansible_collections.meshfed.federation.plugins.module_utils.render.export_limits import (
    drain_rules, render_export_quota)
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    credential_tls, gateway_workload_selector)


# A path whose meaning changes once the app decodes or resolves it: an encoded slash or backslash (Envoy's path
# normalization keeps them encoded, so /ratings/..%2Fadmin still matches a /ratings/* grant and the app may then
# read /admin), or a dot segment, plain or percent-encoded, that the mesh's path normalization left in place
# (meshConfig.pathNormalization NONE). Matched against the path without its query (Envoy's route match).
UNSAFE_PATH_REGEX = r".*(%2[fF]|%5[cC]|/(\.|%2[eE]){1,2}(/|$)).*"
UNSAFE_PATH_ROUTE = "meshfed:unsafe-path"


def export_server_tls(federation, cluster, party, identities, separate_ca=False):
    """Mutual TLS of one server of an export: this cluster's certificate, the CA of one consumer party only, and
    only the identities granted the export within that party."""
    credential = credential_tls(cluster, federation.settings, "serverCertificate", party, separate_ca)
    tls = dict({"mode": "MUTUAL"}, **credential)
    tls["subjectAltNames"] = identities
    return tls


def export_servers(export):
    """host -> (consumer party, identities) of the export's known grants."""
    servers = {}
    for grant in known_grants(export):
        servers.setdefault(grant.host, (grant.party, []))[1].append(grant.identity)
    return servers


def render_export_gateway(federation, cluster, export, separate_ca=False):
    """One Gateway per export, one server per consumer party (selected by SNI): each trusts that party's CA only,
    so no party's CA can mint a certificate another party's server accepts."""
    settings = federation.settings
    labels = owned_labels(settings.federation_name, "export", export=export.name)
    protocol = "HTTPS" if export.protocol == "http" else "TLS"
    servers = [istio.gateway_server(settings.ingress_port, short_name("export", export.name,
                                                                      None if party == cluster.party else party),
                                    protocol, [host],
                                    export_server_tls(federation, cluster, party, identities, separate_ca))
               for host, (party, identities) in sorted(export_servers(export).items())]
    return istio.gateway(settings.istio_api_version, export_object_name(export), settings.gateway_namespace, labels,
                         gateway_workload_selector(INGRESS, settings), servers)


CALLER_KEY = "request.headers[%s]" % CALLER_HEADER


def granted_callers(federation, grant):
    """The caller header's values a grant allows: each caller's SPIFFE ID in the consumer's trust domain."""
    trust_domain = consumer_trust_domain(federation, grant)
    return [caller_principal(trust_domain, caller) for caller in grant.callers]


def render_export_policy(federation, export):
    """Who may use the export, enforced by the ingress gateway's RBAC filter: per consumer, its certificate's
    principal on the SNI host of its party's server, and for http the methods and paths granted to it.

    ALLOW policies add up, and once one selects the gateway a request no rule allows is refused (403, or the
    connection closed for tcp and tls): an export reaches no one its policy does not name. For tcp and tls Istio
    drops a rule with HTTP fields, so those rules carry only the principal and the SNI."""
    settings = federation.settings
    rules = []
    for grant in known_grants(export):
        rule = {"from": [{"source": {"principals": [gateway_principal(grant.identity)]}}],
                "when": [{"key": "connection.sni", "values": [grant.host]}]}
        if grant.callers:
            rule["when"].append({"key": CALLER_KEY, "values": granted_callers(federation, grant)})
        operation = {}
        if grant.methods:
            operation["methods"] = list(grant.methods)
        if grant.paths:
            operation["paths"] = list(grant.paths)
        if operation:
            rule["to"] = [{"operation": operation}]
        rules.append(rule)
    return istio.authorization_policy(kind_api_version("AuthorizationPolicy", settings.istio_api_version),
                                      export_object_name(export), settings.gateway_namespace,
                                      owned_labels(settings.federation_name, "export", export=export.name),
                                      gateway_workload_selector(INGRESS, settings), rules)


def render_export_deny(federation, export):
    """What no other ALLOW policy may widen (a mesh-wide ``rules: [{}]`` in the root namespace, an ALLOW of someone
    else's in the gateway namespace), as a DENY on the ingress gateway: on each server's SNI, every principal its
    grants do not name (the handshake refuses them too: this holds if a server's subjectAltNames were ever widened),
    for a consumer granted only some methods or paths, its requests for the others, for a consumer granted only some
    callers, its requests with any other caller header (or none: a negated match holds for an absent header), and a
    drained consumer's requests and connections (render/export_limits.py)."""
    settings = federation.settings
    rules = []
    for host, (dummy, identities) in sorted(export_servers(export).items()):
        rules.append({"from": [{"source": {"notPrincipals": [gateway_principal(i) for i in identities]}}],
                      "when": [{"key": "connection.sni", "values": [host]}]})
    for grant in known_grants(export):
        operations = []
        if grant.methods:
            operations.append({"operation": {"notMethods": list(grant.methods)}})
        if grant.paths:
            operations.append({"operation": {"notPaths": list(grant.paths)}})
        if operations:
            rules.append({"from": [{"source": {"principals": [gateway_principal(grant.identity)]}}], "to": operations,
                          "when": [{"key": "connection.sni", "values": [grant.host]}]})
        if grant.callers:
            rules.append({"from": [{"source": {"principals": [gateway_principal(grant.identity)]}}],
                          "when": [{"key": "connection.sni", "values": [grant.host]},
                                   {"key": CALLER_KEY, "notValues": granted_callers(federation, grant)}]})
    rules.extend(drain_rules(export))
    return istio.authorization_policy(kind_api_version("AuthorizationPolicy", settings.istio_api_version),
                                      export_deny_name(export), settings.gateway_namespace,
                                      owned_labels(settings.federation_name, "export", export=export.name),
                                      gateway_workload_selector(INGRESS, settings), rules, action="DENY")


# what the exported app reads of who calls: the consumer gateway's certificate principal (URI SAN) as this gateway
# verified it, and the SNI (the grant host, which names the consumer's party); set, so a client's value is replaced
CONSUMER_HEADERS = {CONSUMER_HEADER: "%DOWNSTREAM_PEER_URI_SAN%", CONSUMER_HOST_HEADER: "%REQUESTED_SERVER_NAME%"}


def render_export_route(federation, cluster, export):
    settings = federation.settings
    labels = owned_labels(settings.federation_name, "export", export=export.name)
    local_host = service_fqdn(export.service.namespace, export.service.name, settings)
    target = istio.destination(local_host, export.service.port, export.subset.name if export.subset else None)
    name = export_object_name(export)
    common = dict(hosts=sorted(export_servers(export)), gateways=[name], export_to=["."])
    if export.protocol == "http":
        rewrite = {"authority": local_host}
        if export.rewrite_prefix != export.path_prefix:
            rewrite["uri"] = export.rewrite_prefix
        http = [{"name": UNSAFE_PATH_ROUTE, "match": [{"uri": {"regex": UNSAFE_PATH_REGEX}}],
                 "directResponse": {"status": 400, "body": {"string": "meshfed: encoded slash or dot segment in the path"}}},
                {"name": export.name, "match": [{"uri": {"prefix": export.path_prefix}}], "rewrite": rewrite,
                 "headers": {"request": {"set": dict(CONSUMER_HEADERS)}}, "route": [{"destination": target}]}]
        return istio.virtual_service(settings.istio_api_version, name, settings.gateway_namespace, labels,
                                     http=http, **common)
    tcp = [{"match": [{"port": settings.ingress_port}], "route": [{"destination": target}]}]
    return istio.virtual_service(settings.istio_api_version, name, settings.gateway_namespace, labels, tcp=tcp, **common)


def render_local_service_rules(federation, cluster):
    """One DestinationRule per exported local service, seen only from the gateway namespace: the gateway
    reaches the service with Istio mutual TLS and knows the exported subsets. For a service exported over
    http the gateway speaks the client's HTTP version to it (useClientProtocol): Istio would otherwise follow
    the Service port's protocol, HTTP/1.1 for an ``http`` port, and turn a consumer's h2 or gRPC into HTTP/1.1."""
    settings = federation.settings
    by_service = {}
    for export in cluster.exports:
        by_service.setdefault(export.service[:2], []).append(export)
    rules = []
    for (namespace, name), exports in sorted(by_service.items()):
        subsets = {}
        for export in exports:
            if export.subset:
                subsets[export.subset.name] = {"name": export.subset.name, "labels": dict(export.subset.labels)}
        labels = owned_labels(settings.federation_name, "export",
                              export=exports[0].name if len(exports) == 1 else None)
        rules.append(istio.destination_rule(
            settings.istio_api_version, local_rule_name(namespace, name),
            settings.gateway_namespace, labels, service_fqdn(namespace, name, settings),
            traffic_policy=_local_service_policy(exports),
            subsets=[subsets[k] for k in sorted(subsets)] or None, export_to=["."]))
    return rules


def _local_service_policy(exports):
    policy = {"tls": {"mode": "ISTIO_MUTUAL"}}
    if any(export.protocol == "http" for export in exports):
        # tcp proxying (a tcp or tls export of the same service) ignores the http connection pool settings
        policy["connectionPool"] = istio.client_protocol_pool()
    return policy


def render_exports(federation, cluster_name, istio_version=None):
    """Every object of the export role of one cluster; ``istio_version`` ((major, minor) of its istiod, None when
    unknown) says whether its servers take their consumers' CAs by caCertCredentialName (model/istio_version.py)."""
    cluster = federation.clusters[cluster_name]
    separate_ca = separates_ca(istio_version, federation.settings.cert_delivery)
    objects = []
    served = [export for export in cluster.exports if known_grants(export)]
    for export in served:
        # the policies and quotas before the Gateway: a server never serves without them
        objects.append(render_export_deny(federation, export))
        objects.append(render_export_policy(federation, export))
        quota = render_export_quota(federation, export)
        if quota is not None:
            objects.append(quota)
        objects.append(render_export_gateway(federation, cluster, export, separate_ca))
        objects.append(render_export_route(federation, cluster, export))
    objects.extend(render_local_service_rules(federation, cluster._replace(exports=tuple(served))))
    return objects
