# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders of Istio objects (plain dicts): Gateway, VirtualService, DestinationRule, ServiceEntry, EnvoyFilter
(networking.istio.io) and AuthorizationPolicy (security.istio.io). The apiVersion is a parameter
(networking.istio.io/v1 by default, v1beta1 selectable; security.istio.io follows with the same version; EnvoyFilter
has v1alpha3 only)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.render.kube import metadata


def _object(api_version, kind, name, ns, labels, spec):
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata(name, ns, labels), "spec": spec}


def gateway(api_version, name, ns, labels, selector, servers):
    return _object(api_version, "Gateway", name, ns, labels, {"selector": dict(selector), "servers": servers})


def gateway_server(port_number, port_name, protocol, hosts, tls):
    """A Gateway server that only VirtualServices of the Gateway's own namespace can bind to (``./<host>``): Istio
    lets a VirtualService of any namespace name any Gateway, and binds it wherever the server's hosts admit its
    namespace, so a tenant's more specific route would otherwise take the server's traffic."""
    return {"port": {"number": port_number, "name": port_name, "protocol": protocol},
            "hosts": [own_namespace_host(host) for host in hosts], "tls": tls}


def own_namespace_host(host):
    return "./" + host


def virtual_service(api_version, name, ns, labels, hosts, gateways=None, http=None, tcp=None, tls=None, export_to=None):
    spec = {"hosts": list(hosts)}
    if gateways:
        spec["gateways"] = list(gateways)
    if export_to:
        spec["exportTo"] = list(export_to)
    for key, routes in (("http", http), ("tcp", tcp), ("tls", tls)):
        if routes:
            spec[key] = routes
    return _object(api_version, "VirtualService", name, ns, labels, spec)


def destination(host, port=None, subset=None):
    dest = {"host": host}
    if subset:
        dest["subset"] = subset
    if port is not None:
        dest["port"] = {"number": port}
    return dest


def client_protocol_pool():
    """connectionPool that has Envoy speak upstream the HTTP version the client spoke (use_downstream_protocol):
    h2 and gRPC stay h2 on hops whose Service port alone would make Istio use HTTP/1.1."""
    return {"http": {"useClientProtocol": True}}


def tcp_keepalive_pool(keepalive):
    """connectionPool with TCP keepalive on the upstream connections (Envoy's upstream_connection_options), from a
    model.TcpKeepalive: whole seconds, written as Istio durations."""
    return {"tcp": {"tcpKeepalive": {"time": "%ds" % keepalive.time, "interval": "%ds" % keepalive.interval,
                                     "probes": keepalive.probes}}}


def destination_rule(api_version, name, ns, labels, host, traffic_policy=None, subsets=None, export_to=None):
    spec = {"host": host}
    if export_to:
        spec["exportTo"] = list(export_to)
    if traffic_policy:
        spec["trafficPolicy"] = traffic_policy
    if subsets:
        spec["subsets"] = subsets
    return _object(api_version, "DestinationRule", name, ns, labels, spec)


def service_entry(api_version, name, ns, labels, hosts, ports, resolution, endpoints, export_to=None,
                  location="MESH_EXTERNAL", workload_selector=None, subject_alt_names=None):
    """A ServiceEntry with ``endpoints`` or, instead, a ``workload_selector`` (Istio refuses both)."""
    spec = {
        "hosts": list(hosts),
        "location": location,
        "ports": ports,
        "resolution": resolution,
    }
    if workload_selector is not None:
        spec["workloadSelector"] = {"labels": dict(workload_selector)}
    else:
        spec["endpoints"] = endpoints
    if subject_alt_names:
        spec["subjectAltNames"] = list(subject_alt_names)
    if export_to:
        spec["exportTo"] = list(export_to)
    return _object(api_version, "ServiceEntry", name, ns, labels, spec)


def authorization_policy(api_version, name, ns, labels, selector, rules, action="ALLOW"):
    """ALLOW policies add up with every other ALLOW that selects the workload (a mesh-wide one in the root namespace
    included), so what must never be allowed is written again as a DENY, which no ALLOW overrides."""
    return _object(api_version, "AuthorizationPolicy", name, ns, labels,
                   {"selector": {"matchLabels": dict(selector)}, "action": action, "rules": rules})


def envoy_filter(api_version, name, ns, labels, selector, patches):
    """An EnvoyFilter of the gateway namespace for the workloads ``selector`` names: Istio applies an EnvoyFilter to
    the workloads of its own namespace only (the root namespace's to every workload), so no other namespace's
    filter reaches ours, nor ours theirs."""
    return _object(api_version, "EnvoyFilter", name, ns, labels,
                   {"workloadSelector": {"labels": dict(selector)}, "configPatches": patches})


def gateway_chain_patch(apply_to, port_number, sni, operation, value, sub_filter=None):
    """A config patch of one filter chain of a gateway's listener, the one whose server name is ``sni`` (a Gateway
    server's host), on ``port_number``: an HTTP filter placed relative to ``sub_filter`` of its connection manager,
    or a network filter of the chain."""
    chain = {"sni": sni}
    if sub_filter:
        chain["filter"] = {"name": "envoy.filters.network.http_connection_manager", "subFilter": {"name": sub_filter}}
    return {"applyTo": apply_to,
            "match": {"context": "GATEWAY", "listener": {"portNumber": port_number, "filterChain": chain}},
            "patch": {"operation": operation, "value": value}}
