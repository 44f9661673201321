# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Weighted and failover imports: the local copy and the sources as endpoints of one Envoy cluster, in priorities.

Istio picks a weighted destination once per request and never moves to another (istio#41787); Envoy moves traffic
between the endpoints of one cluster by their health (outlier detection) and priority. So, per import L in
namespace N, and per destination D that takes traffic first (failover: the first of the order; weighted: each one
with a weight), a host ``<D>.<L>.<N>.meshfed.internal`` whose endpoints are:

* the local copy's pods (a ServiceEntry selecting them: the local Service's selector and the subset's labels);
* the egress gateway once per source, each on the port of its leg (a ServiceEntry of inline endpoints, the egress
  Service's ClusterIP), labelled ``leg.meshfed.io/<source>``: an endpoint of a cluster has no SNI or authority of
  its own, so the port alone tells the egress which source is meant, and the egress's own server and route for
  that port carry the source's SNI, CA, pinned identity and grant host, as a binding does (render/egress.py);

a DestinationRule giving them priorities in D's fallback order (``failoverPriority``, whose ``label=value`` entries
compare an endpoint's label with the value: Istio's priority is the number of entries before the first that
differs), outlier detection (without it Istio drops the priorities) and Istio mutual TLS; and the VirtualService
of L sending each D its weight, retrying on another priority (``retryRemoteLocalities``).

Everything in N is exported to N only, as for a split import: the other namespaces keep the plain local Service.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owned_labels
from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import fallback_orders
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    EGRESS, SOURCE_LEG_LABEL, balance_host, balance_object_name, binding_id, caller_principal, gateway_name,
    import_port_name, leg_deny_name, leg_label, leg_object_name, leg_port_name, service_fqdn)
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FAILOVER, LOCAL
from ansible_collections.meshfed.federation.plugins.module_utils.render import egress, istio
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import gateway_workload_selector

SOURCES = "sources"
ISTIO_PROTOCOLS = {"http": "HTTP", "tcp": "TCP", "tls": "TLS"}
# what a weighted or failover http import retries by default: a failed connection, a reset, a refused stream and
# 502/503/504 (a per-try timeout answers 504), up to 3 attempts: Istio's retryRemoteLocalities moves the second
# retry, not the first, to the next priority (previous_priorities, update_frequency 2)
RETRY_ON = "connect-failure,refused-stream,reset,gateway-error"
RETRY_ATTEMPTS = 3


def egress_identity(settings):
    """The SPIFFE ID of this cluster's egress gateway pods, which the sidecars of a balanced import verify."""
    return caller_principal(settings.trust_domain, "%s/%s" % (settings.gateway_namespace, gateway_name(EGRESS)))


def failover_priority(order):
    """``failoverPriority`` for endpoints in ``order``: for each destination after the first, from the last, an entry
    that the destinations before it match and it does not. A source's endpoints alone carry its leg label (so
    ``<leg label>=`` matches every endpoint but its own), and only sources carry SOURCE_LEG_LABEL (so
    ``<that label>=true`` matches every endpoint but the local copy's)."""
    return ["%s=%s" % ((SOURCE_LEG_LABEL, "true") if name == LOCAL else (leg_label(name), ""))
            for name in reversed(order[1:])]


def outlier_detection(settings):
    policy = {"consecutive5xxErrors": settings.consecutive_5xx_errors,
              "consecutiveGatewayErrors": settings.consecutive_gateway_errors,
              "interval": settings.interval, "baseEjectionTime": settings.base_ejection_time,
              "maxEjectionPercent": settings.max_ejection_percent}
    if settings.consecutive_local_origin_failures is not None:
        policy.update(splitExternalLocalOriginErrors=True,
                      consecutiveLocalOriginFailures=settings.consecutive_local_origin_failures)
    return policy


def _port(imported, target_port=None):
    port = {"number": imported.port, "name": import_port_name(imported), "protocol": ISTIO_PROTOCOLS[imported.protocol]}
    if target_port is not None:
        port["targetPort"] = target_port
    return port


def render_balanced(federation, cluster, imported, import_legs, inputs, peer_addresses):
    """Every object of one weighted or failover import: in its namespace, and on the egress gateway per leg.
    ``import_legs``: its model.balance.Leg's; ``inputs``: the BalanceInputs read from the cluster;
    ``peer_addresses``: the GatewayAddress of every cluster imported from."""
    settings = federation.settings
    api = settings.istio_api_version
    labels = owned_labels(settings.federation_name, "import", import_name=imported.name)
    orders = fallback_orders(imported)
    hosts = [balance_host(imported, first) for first, dummy, dummy in orders]
    sans = [egress_identity(settings)]
    objects = []
    if imported.local is not None:
        local = inputs.local_copies[(imported.namespace, imported.name)]
        selector = dict(local.selector, **dict(imported.local.subset.labels if imported.local.subset else {}))
        objects.append(istio.service_entry(
            api, balance_object_name(imported, LOCAL), imported.namespace, labels, hosts,
            [_port(imported, local.target_port)], "STATIC", None, export_to=["."], location="MESH_INTERNAL",
            workload_selector=selector, subject_alt_names=sans))
    endpoints = [{"address": inputs.egress_address, "ports": {_port(imported)["name"]: leg.port},
                  "labels": {leg_label(leg.source.cluster): "true", SOURCE_LEG_LABEL: "true"}}
                 for leg in import_legs]
    objects.append(istio.service_entry(
        api, balance_object_name(imported, SOURCES), imported.namespace, labels, hosts, [_port(imported)], "STATIC",
        endpoints, export_to=["."], location="MESH_INTERNAL", subject_alt_names=sans))
    for (first, dummy, order), host in zip(orders, hosts):
        policy = {"tls": {"mode": "ISTIO_MUTUAL"}, "outlierDetection": outlier_detection(imported.outlier_detection),
                  "loadBalancer": {"localityLbSetting": {"enabled": True, "failoverPriority": failover_priority(order)}}}
        if imported.protocol == "http":
            policy["connectionPool"] = istio.client_protocol_pool()
        objects.append(istio.destination_rule(api, balance_object_name(imported, first), imported.namespace, labels,
                                              host, traffic_policy=policy, export_to=["."]))
    objects.append(_route(settings, imported, labels, orders, hosts))
    for leg in import_legs:
        objects.extend(render_leg(federation, cluster, imported, leg, peer_addresses[leg.source.cluster]))
    return objects


def _route(settings, imported, labels, orders, hosts):
    """The VirtualService of the import's local name: each first destination's host its weight (failover: one)."""
    local_host = service_fqdn(imported.namespace, imported.name, settings)
    routes = [{"destination": istio.destination(host, imported.port)} for host in hosts]
    if imported.mode != FAILOVER and len(routes) > 1:
        for route, (dummy, weight, dummy) in zip(routes, orders):
            route["weight"] = weight
    vs_args = {}
    if imported.protocol == "http":
        retries = imported.retries
        http_route = {"name": imported.name, "route": routes, "retries": {
            "attempts": retries.attempts if retries else RETRY_ATTEMPTS,
            "retryOn": retries.retry_on if retries and retries.retry_on else RETRY_ON,
            "retryRemoteLocalities": True}}
        if retries and retries.per_try_timeout:
            http_route["retries"]["perTryTimeout"] = retries.per_try_timeout
        if imported.timeout:
            http_route["timeout"] = imported.timeout
        vs_args["http"] = [http_route]
    elif imported.protocol == "tcp":
        vs_args["tcp"] = [{"match": [{"port": imported.port}], "route": routes}]
    else:
        vs_args["tls"] = [{"match": [{"port": imported.port, "sniHosts": [local_host]}], "route": routes}]
    return istio.virtual_service(settings.istio_api_version, imported.name, imported.namespace, labels,
                                 [local_host], export_to=["."], **vs_args)


def render_leg(federation, cluster, imported, leg, address):
    """The egress gateway's server, route and policies of one source of a balanced import, on the leg's port: any
    SNI and any authority (the sidecar's cluster gives neither per endpoint), only VirtualServices of the gateway's
    namespace bind to it; only the importing namespace may connect to the port."""
    settings = federation.settings
    source = leg.source
    labels = owned_labels(settings.federation_name, "import", import_name=imported.name,
                          binding=binding_id(imported, source))
    name = leg_object_name(imported, source)
    server = istio.gateway_server(leg.port, leg_port_name(leg.port), "HTTPS" if imported.protocol == "http" else "TLS",
                                  ["*"], {"mode": "ISTIO_MUTUAL"})
    gateway = istio.gateway(settings.istio_api_version, name, settings.gateway_namespace, labels,
                            gateway_workload_selector(EGRESS, settings), [server])
    forward = egress.forward(federation, cluster, imported, source, address, name, labels, "*", leg.port)
    port = [{"key": "destination.port", "values": [str(leg.port)]}]
    return egress.policies(settings, imported, labels, leg_deny_name(imported, source), name, port) + [gateway, forward]
