# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Imports of one cluster: an export of another cluster (of this inventory or a peer's) consumed under a local name.

Chain of one binding (local name L in namespace N, source cluster S, export E):
sidecar -(ISTIO_MUTUAL, SNI = binding host)-> private egress gateway (Gateway per binding, an
AuthorizationPolicy letting only namespace N use that SNI) -(tcp route; for http an HTTP route: authority -> the
grant host, the caller header set from the sidecar's certificate)-> ServiceEntry for S's identity -(MUTUAL with this
cluster's certificate, SNI = export host, server SAN pinned to S's identity)-> S's private ingress gateway.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.hosts import HostClaim
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owned_labels
from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import EXPORT_TO
from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import balanced, fallback_orders, legs
from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import is_ip_address
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    balance_host, binding_deny_name, binding_host, binding_id, binding_object_name, binding_subset, EGRESS,
    EGRESS_RULE_NAME, gateway_service_fqdn, import_port_name, source_object_name, service_fqdn, short_name)
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import cluster_of, find_export, grant_for
from ansible_collections.meshfed.federation.plugins.module_utils.render import egress, istio, kube
from ansible_collections.meshfed.federation.plugins.module_utils.render.balance import render_balanced
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    credential_tls, gateway_workload_selector)


def render_source_cluster(federation, cluster, source_name, exports, address):
    """ServiceEntry and DestinationRule (meshfed-peer-<cluster>, a name users rely on) that reach the ingress gateway of
    one cluster this one imports from, with mutual TLS, and TCP keepalive
    (``peer_tcp_keepalive``) so that the load balancers and NAT gateways on the way keep an idle connection."""
    settings = federation.settings
    source = cluster_of(federation, source_name)
    labels = owned_labels(settings.federation_name, "import")
    name = source_object_name(source_name)
    resolution = "STATIC" if is_ip_address(address.address) else "DNS"
    entry = istio.service_entry(
        settings.istio_api_version, name, settings.gateway_namespace, labels, [source.identity],
        [{"number": address.port, "name": "tls-federation", "protocol": "TLS"}], resolution,
        [{"address": address.address}], export_to=["."])
    traffic_policy = {"tls": _origination_tls(cluster, settings, source.identity, source)}
    if settings.peer_tcp_keepalive is not None:
        # Istio merges a subset's policy with the rule's field by field: a subset without a pool keeps this one
        traffic_policy["connectionPool"] = istio.tcp_keepalive_pool(settings.peer_tcp_keepalive)
    subsets = [_export_subset(cluster, settings, export, source) for export in sorted(exports, key=lambda e: e.name)]
    rule = istio.destination_rule(
        settings.istio_api_version, name, settings.gateway_namespace, labels, source.identity,
        traffic_policy=traffic_policy, subsets=subsets, export_to=["."])
    return [entry, rule]


def _export_subset(cluster, settings, export, source):
    """The subset of one export of a source cluster: its SNI (the grant host). For an http export the egress gateway
    is an HTTP hop, and the source's ServiceEntry port is TLS, so without useClientProtocol it would speak HTTP/1.1
    to the exporter and turn h2 and gRPC into HTTP/1.1; a subset's connectionPool replaces the rule's, so it repeats
    the rule's tcp keepalive."""
    policy = {"tls": _origination_tls(cluster, settings, grant_for(export, cluster.name).host, source)}
    if export.protocol == "http":
        pool = istio.client_protocol_pool()
        if settings.peer_tcp_keepalive is not None:
            pool.update(istio.tcp_keepalive_pool(settings.peer_tcp_keepalive))
        policy["connectionPool"] = pool
    return {"name": export.name, "trafficPolicy": policy}


def _origination_tls(cluster, settings, sni, source):
    """Mutual TLS from the egress gateway to a source cluster: this cluster's certificate, the CA of the source's
    party only, the source's identity pinned."""
    tls = dict({"mode": "MUTUAL"}, **credential_tls(cluster, settings, "clientCertificate", source.party))
    tls.update(subjectAltNames=[source.identity], sni=sni)
    return tls


def render_binding(federation, cluster, imported, source, address):
    """Egress Gateway server and the VirtualService that forwards one binding to its source cluster.

    tcp and tls: a TLS server (ISTIO_MUTUAL) and a tcp route. http: an HTTPS server (ISTIO_MUTUAL, the same host:
    its SNI selects the filter chain, its authority the one virtual host) and the HTTP route of egress.forward."""
    settings = federation.settings
    binding = binding_id(imported, source)
    labels = owned_labels(settings.federation_name, "import", import_name=imported.name, binding=binding)
    name = binding_object_name(imported, source)
    host = binding_host(imported, source, settings)
    server = istio.gateway_server(settings.egress_port, short_name("import", binding),
                                  "HTTPS" if imported.protocol == "http" else "TLS", [host], {"mode": "ISTIO_MUTUAL"})
    gateway = istio.gateway(settings.istio_api_version, name, settings.gateway_namespace, labels,
                            gateway_workload_selector(EGRESS, settings), [server])
    forward = egress.forward(federation, cluster, imported, source, address, name, labels, host, settings.egress_port)
    return render_binding_policies(federation, imported, source) + [gateway, forward]


def render_binding_policies(federation, imported, source):
    """Only the importing namespace may use a binding: egress.policies on the binding's SNI (``connection.sni``, a
    condition of both the RBAC network filter of a TLS server and the HTTP one of an HTTPS server)."""
    settings = federation.settings
    labels = owned_labels(settings.federation_name, "import", import_name=imported.name,
                          binding=binding_id(imported, source))
    sni = [{"key": "connection.sni", "values": [binding_host(imported, source, settings)]}]
    return egress.policies(settings, imported, labels, binding_deny_name(imported, source),
                           binding_object_name(imported, source), sni)


def render_egress_rule(federation, cluster):
    """The egress gateway's DestinationRule: one subset per binding with Istio mutual TLS and its SNI.

    Exported to the importing namespaces only, and explicitly (a mesh whose defaultDestinationRuleExportTo
    is "." would hide it from their sidecars): a sidecar elsewhere has no binding subsets to route to. Its own
    namespace is written "." (a rule listing its own namespace by name was private in Istio 1.20,
    istio/istio#48349).
    http bindings keep the client's HTTP version on the hop to the egress gateway, whose Service port is TLS
    and would make the sidecar speak HTTP/1.1; a port-level policy replaces the subset's connection pool
    instead of adding to it, so the pool sits beside the port's tls."""
    settings = federation.settings
    subsets = []
    for imported in cluster.imports:
        if balanced(imported):
            continue  # its legs are the egress gateway's by port (render/balance.py), not by subset
        for source in imported.sources:
            port_policy = {"port": {"number": settings.egress_port},
                           "tls": {"mode": "ISTIO_MUTUAL", "sni": binding_host(imported, source, settings)}}
            if imported.protocol == "http":
                port_policy["connectionPool"] = istio.client_protocol_pool()
            subsets.append({"name": binding_subset(imported, source),
                            "trafficPolicy": {"portLevelSettings": [port_policy]}})
    namespaces = sorted({"." if i.namespace == settings.gateway_namespace else i.namespace for i in cluster.imports})
    return istio.destination_rule(
        settings.istio_api_version, EGRESS_RULE_NAME, settings.gateway_namespace,
        owned_labels(settings.federation_name, "import"), gateway_service_fqdn(EGRESS, settings),
        traffic_policy={"tls": {"mode": "ISTIO_MUTUAL"}}, subsets=sorted(subsets, key=lambda s: s["name"]),
        export_to=namespaces)


def render_local_alias(federation, cluster, imported):
    """In the consumer's namespace: the DNS Service (unless a local copy exists), the local copy's subset
    rule and the VirtualService that splits traffic between the local copy and the peers.

    The rule and the VirtualService are exported to the importing namespace only: the other namespaces of the
    cluster are not granted the binding (the egress gateway refuses them) and keep the plain local Service as
    before the import existed, or, for a name with no local copy, a Service without endpoints (a 503 from their
    own sidecar; nothing of theirs reaches another cluster). That Service is exported everywhere
    (``networking.istio.io/exportTo: "*"``), whatever the mesh's ``defaultServiceExportTo``: the importing
    namespace must see it, and elsewhere it is a name without endpoints rather than an unknown host that a
    sidecar would pass through to the Service's address."""
    settings = federation.settings
    labels = owned_labels(settings.federation_name, "import", import_name=imported.name)
    local_host = service_fqdn(imported.namespace, imported.name, settings)
    objects = name_service(settings, imported)
    if imported.local is not None and imported.local.subset is not None:
        # the subset only, no tls: a traffic policy here would turn off Istio's auto mTLS for the local copy
        subset = imported.local.subset
        objects.append(istio.destination_rule(
            settings.istio_api_version, imported.name, imported.namespace, labels, local_host,
            subsets=[{"name": subset.name, "labels": dict(subset.labels)}], export_to=["."]))
    routes = _alias_destinations(federation, cluster, imported)
    vs_args = {}
    if imported.protocol == "http":
        http_route = {"name": imported.name, "route": routes}
        if imported.timeout:
            http_route["timeout"] = imported.timeout
        if imported.retries:
            retries = {"attempts": imported.retries.attempts}
            if imported.retries.per_try_timeout:
                retries["perTryTimeout"] = imported.retries.per_try_timeout
            if imported.retries.retry_on:
                retries["retryOn"] = imported.retries.retry_on
            http_route["retries"] = retries
        vs_args["http"] = [http_route]
    elif imported.protocol == "tcp":
        vs_args["tcp"] = [{"match": [{"port": imported.port}], "route": routes}]
    else:
        vs_args["tls"] = [{"match": [{"port": imported.port, "sniHosts": [local_host]}], "route": routes}]
    objects.append(istio.virtual_service(settings.istio_api_version, imported.name, imported.namespace, labels,
                                         [local_host], export_to=["."], **vs_args))
    return objects


def name_service(settings, imported):
    """The Service that gives an import without a local copy its DNS name (none when there is a local copy)."""
    if imported.local is not None:
        return []
    labels = owned_labels(settings.federation_name, "import", import_name=imported.name)
    return [kube.service(imported.name, imported.namespace, labels,
                         [kube.service_port(import_port_name(imported), imported.port, imported.port)],
                         annotations={EXPORT_TO: "*"})]


def _alias_destinations(federation, cluster, imported):
    settings = federation.settings
    routes = []
    if imported.local is not None:
        subset = imported.local.subset.name if imported.local.subset else None
        routes.append(_weighted(istio.destination(service_fqdn(imported.namespace, imported.name, settings),
                                                  imported.port, subset), imported.local.weight))
    for source in imported.sources:
        route = _weighted(istio.destination(gateway_service_fqdn(EGRESS, settings), settings.egress_port,
                                            binding_subset(imported, source)), source.weight)
        if imported.protocol == "http":
            # Per destination, so the local copy keeps its own authority: Istio turns this into the weighted
            # cluster's host_rewrite_literal. The egress gateway's HTTPS server of the binding has one virtual host,
            # the binding host (its SNI too); its route rewrites the authority to the grant host, the exporter's.
            route["headers"] = {"request": {"set": {":authority": binding_host(imported, source, settings)}}}
        routes.append(route)
    if len(routes) == 1:
        routes[0].pop("weight", None)
    return routes


def _weighted(destination, weight):
    route = {"destination": destination}
    route["weight"] = 100 if weight is None else weight
    return route


# Why someone else's object for a host an import stands for is a conflict, by what it is to the import.
ROUTE_SHADOWED = ("Istio gives a sidecar one VirtualService per host (istioctl analyze IST0109): the first found "
                  "wins, so either its routes or the import's would be ignored")
RULE_MERGED = ("Istio merges the DestinationRules for one host in one namespace: its subsets and traffic policy "
               "would mix with the import's")
RULE_ORPHANED = ("the name now stands for the import (a Service without pods, routed to the peers): its subsets and "
                 "traffic policy would silently apply to nothing")
EGRESS_RULE_SHADOWED = ("sidecars in %s take a DestinationRule of their own namespace before the egress gateway's "
                        "rule in %s: the import's subsets and SNI would be missing (503 NC)")


def host_claims(federation, cluster_name):
    """The hosts the imports of one cluster stand for, where someone else's VirtualService or DestinationRule
    would change what an import does (apply reports those as conflicts before changing anything):

    * the local name's FQDN in the import's namespace: a VirtualService for exactly that host (in the namespace or
      exported to it; a wildcard host is less specific, and Istio gives a Service the VirtualService with its
      most specific host); a DestinationRule for exactly that host when the import brings its own rule (the
      local copy's subset) or its own Service (no local copy); with a local copy and no subset, a rule of the
      user's for it is the user's business;
    * the egress gateway's FQDN in every namespace of a split import: a DestinationRule there (a wildcard such as
      ``*.local`` too) wins over the exported egress rule;
    * the hosts of a weighted or failover import's destinations (render/balance.py): a DestinationRule for one
      would merge with the import's."""
    settings = federation.settings
    cluster = federation.clusters[cluster_name]
    egress_host = gateway_service_fqdn(EGRESS, settings)
    claims = []
    importing = {}
    for imported in cluster.imports:
        name = "%s/%s" % (imported.namespace, imported.name)
        local_host = service_fqdn(imported.namespace, imported.name, settings)
        claims.append(HostClaim(imported.namespace, "VirtualService", local_host, False, (name,), "the local name",
                                ROUTE_SHADOWED))
        if balanced(imported):
            claims.extend(HostClaim(imported.namespace, "DestinationRule", balance_host(imported, first), False,
                                    (name,), "the %s's destinations" % imported.mode, RULE_MERGED)
                          for first, dummy, dummy in fallback_orders(imported))
        else:
            importing.setdefault(imported.namespace, []).append(name)
        if imported.local is None or (imported.local.subset is not None and not balanced(imported)):
            claims.append(HostClaim(imported.namespace, "DestinationRule", local_host, False, (name,),
                                    "the local name", RULE_ORPHANED if imported.local is None else RULE_MERGED))
    for namespace, names in sorted(importing.items()):
        if namespace != settings.gateway_namespace:
            claims.append(HostClaim(namespace, "DestinationRule", egress_host, True, tuple(names),
                                    "the egress gateway", EGRESS_RULE_SHADOWED % (namespace, settings.gateway_namespace)))
    return claims


def render_imports(federation, cluster_name, peer_addresses, balance_inputs=None):
    """Every object of the import role of one cluster.

    ``peer_addresses`` (an option's name users rely on) maps every cluster the imports consume from to the
    GatewayAddress to dial (discovery.peer_addresses resolves them); ``balance_inputs``, the BalanceInputs the
    weighted and failover imports need (observe/local_copies.py reads them; None when there are none).
    """
    cluster = federation.clusters[cluster_name]
    if not cluster.imports:
        return []
    objects = []
    exports_by_source = {}
    for imported in cluster.imports:
        for source in imported.sources:
            exports_by_source.setdefault(source.cluster, {})[source.export] = find_export(
                federation, source.cluster, source.export)
    for source_name in sorted(exports_by_source):
        objects.extend(render_source_cluster(federation, cluster, source_name, exports_by_source[source_name].values(),
                                             peer_addresses[source_name]))
    objects.append(render_egress_rule(federation, cluster))
    import_legs = legs(cluster)
    for imported in cluster.imports:
        if balanced(imported):
            objects.extend(name_service(federation.settings, imported))
            objects.extend(render_balanced(federation, cluster, imported,
                                           [leg for leg in import_legs if leg.imported == imported], balance_inputs,
                                           peer_addresses))
            continue
        for source in imported.sources:
            objects.extend(render_binding(federation, cluster, imported, source, peer_addresses[source.cluster]))
        objects.extend(render_local_alias(federation, cluster, imported))
    return objects
