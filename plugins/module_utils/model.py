# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation model: what every cluster exports and imports, validated as a whole.

``build_model(clusters, settings)`` turns the inventory's per-cluster description into frozen
dataclasses, or raises ``FederationModelError`` carrying *every* problem found, each one naming the
cluster, the inventory variable, the list item and the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import ipaddress
import re
from collections import namedtuple

from ansible_collections.meshfed.federation.plugins.module_utils.istio_version import AUTO, parse_version

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# a lowercase DNS name: labels of at most 63 characters, 253 in all (a cluster's identity, an address)
DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$")
PROTOCOLS = ("http", "tcp", "tls")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
# a cluster of a peer party is named <peer>/<cluster> in this inventory: the peer's name, then its own name for it
PEER_SEPARATOR = "/"
CERT_DELIVERIES = ("sds", "file")
# federation: one CA for the inventory, one party; cluster: a CA per cluster, each cluster a party of its own
CA_SCOPES = ("federation", "cluster")
ISTIO_API_VERSIONS = ("networking.istio.io/v1", "networking.istio.io/v1beta1")
DISCOVER = "discover"
SERVICE_TYPES = ("LoadBalancer", "NodePort", "ClusterIP")
EXTERNAL_TRAFFIC_POLICIES = ("Cluster", "Local")
# annotation keys of meshfed's own (meshfed.io/spec-hash): not the user's to set
RESERVED_ANNOTATION_PREFIX = "meshfed.io/"
# Linux's limits for TCP_KEEPIDLE / TCP_KEEPINTVL (seconds) and TCP_KEEPCNT
KEEPALIVE_MAX_SECONDS = 32767
KEEPALIVE_MAX_PROBES = 127
DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
BOOLEAN_STRINGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}

DEFAULT_SETTINGS = {
    "federation_name": "meshfed",
    "party": None,
    "ca_scope": "federation",
    "gateway_namespace": "istio-private-gateways",
    "istio_api_version": "networking.istio.io/v1",
    "cert_delivery": "sds",
    "cluster_domain": "cluster.local",
    "ingress_port": 15443,
    "egress_port": 443,
    "ingress_service_type": "LoadBalancer",
    "autoscale_min": 2,
    "autoscale_max": 5,
    "autoscale_cpu_percent": 80,
    "gateway_image": "auto",
    "istio_revision": None,
    # the minor version of every cluster's istiod ("1.28"), or auto: read from istiod's Deployment in each cluster
    "istio_version": "auto",
    "allow_local_gateway_addresses": False,
    # the ingress gateway's Service (LoadBalancer by default): annotations for the cloud's load balancer, the
    # source ranges it admits, its externalTrafficPolicy; none of them set by default
    "ingress_service_annotations": {},
    "ingress_load_balancer_source_ranges": (),
    "ingress_external_traffic_policy": None,
    # TCP keepalive on the egress gateway's connections to a peer's ingress gateway (docs/design.md: the first probe
    # comes before the shortest idle timeout of the usual cloud load balancers and NAT gateways, 60 s); false: off
    "peer_tcp_keepalive": {"time": "45s", "interval": "15s", "probes": 3},
}

Settings = namedtuple("Settings", sorted(DEFAULT_SETTINGS))
# TCP keepalive of a connection: idle seconds before the first probe, seconds between probes, probes unanswered
# before the connection is dropped (what Envoy's upstream_connection_options.tcp_keepalive takes: whole seconds)
TcpKeepalive = namedtuple("TcpKeepalive", "time interval probes")
ServiceRef = namedtuple("ServiceRef", "namespace name port")
Subset = namedtuple("Subset", "name labels")
GatewayAddress = namedtuple("GatewayAddress", "address port")
# what one consumer may use of an export: the SNI host it dials (one per consumer party), the identity its
# certificate carries (None while its party's peering bundle is not there), optional HTTP methods and paths
Grant = namedtuple("Grant", "consumer identity host methods paths party")
Export = namedtuple("Export", "name service subset protocol path_prefix rewrite_prefix consumers probe_path grants")
RemoteSource = namedtuple("RemoteSource", "cluster export weight")
LocalSource = namedtuple("LocalSource", "subset weight")
Retries = namedtuple("Retries", "attempts per_try_timeout retry_on")
Import = namedtuple("Import", "name namespace port protocol sources local timeout retries")
# party: the organization whose CA signs the cluster's certificate; consumes_from: the peer parties it imports from
Cluster = namedtuple("Cluster", "name identity gateway_address exports imports party consumes_from")
# a peer party: its CA certificates, its clusters (named <peer>/<cluster>) as its peering bundle describes them, the
# bundle's body and signer fingerprint; bundle None while the peer has not handed one yet (pending); withdrawn: the
# "<peer>/<cluster>/<export>" its bundle last applied granted and this one no longer does
Peer = namedtuple("Peer", "name cas clusters bundle signer withdrawn")
# peers: name -> Peer; skipped: what waits for a pending peer's bundle, one sentence each
Federation = namedtuple("Federation", "settings clusters peers skipped")

EXPORT_FIELDS = ("name", "service", "subset", "protocol", "path_prefix", "rewrite_prefix", "consumers", "probe_path")
IMPORT_FIELDS = ("name", "namespace", "port", "protocol", "from", "local", "timeout", "retries")
CLUSTER_FIELDS = ("identity", "gateway_address", "exports", "imports")


class FederationModelError(Exception):
    """Every validation problem of an inventory, reported together."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(FederationModelError, self).__init__(
            "invalid federation inventory (%d problem%s):\n- %s"
            % (len(self.errors), "" if len(self.errors) == 1 else "s", "\n- ".join(self.errors))
        )


class _Problems(object):
    """Collects errors under a location prefix such as ``cluster2: meshfed_exports[0] (reviews-v2)``."""

    def __init__(self):
        self.errors = []

    def add(self, where, message):
        self.errors.append("%s: %s" % (where, message))


def short_name(*parts, **kwargs):
    """Join parts with '-'; above ``limit`` characters keep a prefix and add a stable hash."""
    limit = kwargs.get("limit", 63)
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return name[: limit - 11].rstrip("-") + "-" + digest


def binding_id(imported, source):
    """Name of one (local name, peer, export) binding; unique per consumer namespace."""
    return short_name(imported.name, name_part(source.cluster), source.export)


GATEWAY_SPIFFE_PATH = "meshfed-gateway"


def gateway_principal(identity):
    """What a gateway certificate's URI SAN carries after ``spiffe://`` (Envoy's RBAC principal for it, which an
    AuthorizationPolicy's ``source.principals`` matches)."""
    return "%s/%s" % (identity, GATEWAY_SPIFFE_PATH)


def is_dns_name(value):
    return isinstance(value, str) and bool(DNS_NAME.match(value))


def service_fqdn(namespace, name, settings):
    return "%s.%s.svc.%s" % (name, namespace, settings.cluster_domain)


def _check_unknown_keys(problems, where, data, allowed):
    for key in sorted(set(data) - set(allowed)):
        problems.add(where, "unknown field '%s' (allowed: %s)" % (key, ", ".join(allowed)))


def _check_dns_label(problems, where, field, value, max_len=63):
    if not isinstance(value, str) or not value:
        problems.add(where, "%s is required and must be a string" % field)
        return False
    if len(value) > max_len or not DNS1123_LABEL.match(value):
        problems.add(where, "%s '%s' is not a valid DNS-1123 label (lowercase alphanumerics and '-', at most %d characters)"
                     % (field, value, max_len))
        return False
    return True


def _check_port(problems, where, field, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        problems.add(where, "%s %r is not a port number (1-65535)" % (field, value))
        return False
    return True


def _check_duration(problems, where, field, value):
    if not isinstance(value, str) or not DURATION.match(value):
        problems.add(where, "%s %r is not a duration such as '500ms', '5s' or '1m'" % (field, value))
        return None
    return value


def _check_labels(problems, where, field, labels):
    if not isinstance(labels, dict) or not labels:
        problems.add(where, "%s must be a non-empty mapping of pod labels" % field)
        return {}
    for key, value in labels.items():
        name = key.rsplit("/", 1)[-1] if isinstance(key, str) else ""
        if not LABEL_KEY_NAME.match(name) or len(name) > 63:
            problems.add(where, "%s key %r is not a valid label key" % (field, key))
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            problems.add(where, "%s[%s] value %r is not a valid label value (quote numbers in YAML)" % (field, key, value))
    return dict(labels)


def setting_var(key):
    """The inventory variable of a federation-wide setting, as users write it."""
    return "meshfed_" + key


def _parse_settings(problems, raw):
    """The settings, each problem naming the variable (meshfed_<setting>) the user wrote."""
    merged = dict(DEFAULT_SETTINGS)
    raw = raw or {}
    where = "settings"
    _check_unknown_keys(problems, where, raw, sorted(DEFAULT_SETTINGS))
    merged.update({k: v for k, v in raw.items() if k in DEFAULT_SETTINGS and v is not None})
    for key in ("federation_name", "gateway_namespace"):
        _check_dns_label(problems, where, setting_var(key), merged[key])
    if merged["party"]:
        _check_dns_label(problems, where, setting_var("party"), merged["party"])
    merged["party"] = merged["party"] or merged["federation_name"]  # checked as meshfed_federation_name then
    for key, allowed in (("ca_scope", CA_SCOPES), ("istio_api_version", ISTIO_API_VERSIONS),
                         ("cert_delivery", CERT_DELIVERIES),
                         ("ingress_service_type", SERVICE_TYPES)):
        if merged[key] not in allowed:
            problems.add(where, "%s %r must be one of %s" % (setting_var(key), merged[key], ", ".join(allowed)))
    for port_field in ("ingress_port", "egress_port"):
        _check_port(problems, where, setting_var(port_field), merged[port_field])
    counts = ("autoscale_min", "autoscale_max", "autoscale_cpu_percent")
    bad_counts = [key for key in counts if isinstance(merged[key], bool) or not isinstance(merged[key], int)
                  or merged[key] < 1]
    for key in bad_counts:
        problems.add(where, "%s %r must be a positive integer" % (setting_var(key), merged[key]))
    if not bad_counts and merged["autoscale_min"] > merged["autoscale_max"]:
        problems.add(where, "%s (%d) is greater than %s (%d)" % (setting_var("autoscale_min"), merged["autoscale_min"],
                                                                 setting_var("autoscale_max"), merged["autoscale_max"]))
    for key in ("gateway_image", "cluster_domain"):
        if not isinstance(merged[key], str) or not merged[key]:
            problems.add(where, "%s %r must be a non-empty string" % (setting_var(key), merged[key]))
    if merged["istio_revision"] == "":
        merged["istio_revision"] = None
    if merged["istio_revision"] is not None:
        _check_dns_label(problems, where, setting_var("istio_revision"), merged["istio_revision"])
    if merged["istio_version"] != AUTO and parse_version(merged["istio_version"]) is None:
        problems.add(where, "%s %r must be auto or an Istio version such as \"1.28\" (quoted: YAML reads 1.30 as "
                            "the number 1.3)" % (setting_var("istio_version"), merged["istio_version"]))
    allow_local = as_bool(merged["allow_local_gateway_addresses"])
    if allow_local is None:
        problems.add(where, "%s %r must be true or false" % (setting_var("allow_local_gateway_addresses"),
                                                             merged["allow_local_gateway_addresses"]))
    merged["allow_local_gateway_addresses"] = bool(allow_local)
    merged["ingress_service_annotations"] = _parse_annotations(problems, where, merged["ingress_service_annotations"])
    merged["ingress_load_balancer_source_ranges"] = _parse_source_ranges(
        problems, where, merged["ingress_load_balancer_source_ranges"], merged["ingress_service_type"])
    merged["ingress_external_traffic_policy"] = _parse_external_traffic_policy(
        problems, where, merged["ingress_external_traffic_policy"], merged["ingress_service_type"])
    merged["peer_tcp_keepalive"] = _parse_tcp_keepalive(problems, where, merged["peer_tcp_keepalive"])
    return Settings(**merged)


def _parse_annotations(problems, where, raw):
    """The ingress gateway Service's annotations: a mapping of annotation keys (an optional DNS prefix and '/', then
    a name) to strings."""
    var = setting_var("ingress_service_annotations")
    if not isinstance(raw, dict):
        problems.add(where, "%s %r must be a mapping of annotation names to strings" % (var, raw))
        return {}
    for key, value in sorted(raw.items(), key=lambda item: str(item[0])):
        prefix, dummy, name = key.rpartition("/") if isinstance(key, str) else ("", "", "")
        if (not LABEL_KEY_NAME.match(name) or len(name) > 63 or (dummy and not is_dns_name(prefix))):
            problems.add(where, "%s key %r is not a valid annotation name (an optional lowercase DNS prefix and '/', "
                         "then at most 63 alphanumerics, '-', '_' or '.')" % (var, key))
        elif key.startswith(RESERVED_ANNOTATION_PREFIX):
            problems.add(where, "%s key %r is reserved: meshfed sets the %s* annotations itself"
                         % (var, key, RESERVED_ANNOTATION_PREFIX))
        if not isinstance(value, str):
            problems.add(where, "%s[%s] value %r is not a string (quote true, false and numbers in YAML)"
                         % (var, key, value))
    return dict(raw)


def _parse_source_ranges(problems, where, raw, service_type):
    """The CIDRs the ingress gateway's load balancer admits (spec.loadBalancerSourceRanges), as written."""
    var = setting_var("ingress_load_balancer_source_ranges")
    if not isinstance(raw, (list, tuple)):
        problems.add(where, "%s %r must be a list of CIDRs such as 203.0.113.0/24 or 2001:db8::/48" % (var, raw))
        return ()
    for index, cidr in enumerate(raw):
        if not isinstance(cidr, str) or "/" not in cidr:
            problems.add(where, "%s[%d] %r is not a CIDR: an address and a prefix length, such as 203.0.113.7/32 or "
                         "2001:db8::/48" % (var, index, cidr))
            continue
        network = ipaddress.IPv6Network if ":" in cidr else ipaddress.IPv4Network
        try:
            network(cidr, strict=True)
        except ValueError as error:
            hint = ""
            if "host bits set" in str(error):
                hint = " (the network is %s)" % network(cidr, strict=False)
            problems.add(where, "%s[%d] %r is not a CIDR: %s%s" % (var, index, cidr, error, hint))
    if raw and service_type != "LoadBalancer":
        problems.add(where, "%s is set but %s is %s: source ranges apply to a LoadBalancer Service only"
                     % (var, setting_var("ingress_service_type"), service_type))
    return tuple(raw)


def _parse_external_traffic_policy(problems, where, raw, service_type):
    var = setting_var("ingress_external_traffic_policy")
    if raw is None or raw == "":
        return None
    if raw not in EXTERNAL_TRAFFIC_POLICIES:
        problems.add(where, "%s %r must be one of %s" % (var, raw, ", ".join(EXTERNAL_TRAFFIC_POLICIES)))
    elif service_type not in ("LoadBalancer", "NodePort"):
        problems.add(where, "%s is set but %s is %s: an external traffic policy applies to a LoadBalancer or NodePort "
                     "Service only" % (var, setting_var("ingress_service_type"), service_type))
    return raw


def duration_seconds(value):
    """The seconds of a duration such as '45s', '2m' or '1500ms' (a float); None for anything else."""
    match = DURATION.match(value) if isinstance(value, str) else None
    if not match:
        return None
    return float(value[: -len(match.group(2))]) * DURATION_SECONDS[match.group(2)]


def _parse_tcp_keepalive(problems, where, raw):
    """TcpKeepalive (seconds, seconds, count) from a mapping with time, interval and probes (each defaulting to
    the default's), true (the default) or false (None: off)."""
    var = setting_var("peer_tcp_keepalive")
    default = DEFAULT_SETTINGS["peer_tcp_keepalive"]
    switch = as_bool(raw) if not isinstance(raw, dict) else None
    if switch is False:
        return None
    if switch is True:
        raw = default
    if not isinstance(raw, dict):
        problems.add(where, "%s %r must be false or a mapping with time, interval and probes" % (var, raw))
        return None
    _check_unknown_keys(problems, where + ": " + var, raw, ("time", "interval", "probes"))
    values = dict(default, **dict((k, v) for k, v in raw.items() if v is not None))
    seconds = {}
    for field in ("time", "interval"):
        value = duration_seconds(values[field])
        if value is None or value != int(value) or not 1 <= value <= KEEPALIVE_MAX_SECONDS:
            problems.add(where, "%s.%s %r must be a duration of whole seconds between 1s and %ds, such as '45s' or "
                         "'2m'" % (var, field, values[field], KEEPALIVE_MAX_SECONDS))
            continue
        seconds[field] = int(value)
    probes = values["probes"]
    if isinstance(probes, bool) or not isinstance(probes, int) or not 1 <= probes <= KEEPALIVE_MAX_PROBES:
        problems.add(where, "%s.probes %r must be an integer between 1 and %d" % (var, probes, KEEPALIVE_MAX_PROBES))
        return None
    if len(seconds) < 2:
        return None
    return TcpKeepalive(seconds["time"], seconds["interval"], probes)


def as_bool(value):
    """True/False for a boolean or the strings Ansible reads as one (``-e name=true`` gives a string); else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in BOOLEAN_STRINGS:
        return BOOLEAN_STRINGS[value.lower()]
    return None


def _parse_gateway_address(problems, where, raw, settings):
    if raw is None or raw == DISCOVER:
        return DISCOVER
    if isinstance(raw, str):
        host, sep, port = raw.rpartition(":")
        raw = {"address": host, "port": int(port)} if sep and port.isdigit() else {"address": raw}
    if not isinstance(raw, dict):
        problems.add(where, "meshfed_gateway_address must be 'discover', 'host:port' or a mapping with address and port")
        return DISCOVER
    _check_unknown_keys(problems, where + ": meshfed_gateway_address", raw, ("address", "port"))
    address = raw.get("address")
    port = raw.get("port", 15443)
    _check_port(problems, where, "meshfed_gateway_address.port", port)
    if not is_ip_address(address) and not is_dns_name(address):
        problems.add(where, "meshfed_gateway_address.address %r is neither an IP address nor a DNS name" % (address,))
    elif local_address_kind(address) and not settings.allow_local_gateway_addresses:
        problems.add(where, "meshfed_gateway_address.address %s" % refused_local_address(address))
    return GatewayAddress(address, port)


def is_ip_address(value):
    try:
        ipaddress.ip_address(value)
        return True
    except (ValueError, TypeError):
        return False


def refused_local_address(address):
    """Why a loopback or link-local peer gateway address is refused, after the words naming where it was found."""
    return ("%s is a %s address, which a consumer's egress gateway would reach on its own host, not at the peer "
            "(set meshfed_allow_local_gateway_addresses: true for a lab whose clusters share one machine)"
            % (address, local_address_kind(address)))


def local_address_kind(address):
    """'loopback' or 'link-local' for an IP address (or localhost name) no peer can be reached at, else None.
    IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) count as the IPv4 address they carry."""
    if isinstance(address, str) and (address == "localhost" or address.endswith(".localhost")):
        return "loopback"
    try:
        ip = ipaddress.ip_address(address)
    except (ValueError, TypeError):
        return None
    ip = getattr(ip, "ipv4_mapped", None) or ip
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    return None


def _parse_subset(problems, where, raw):
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add(where, "subset must be a mapping with name and labels")
        return None
    _check_unknown_keys(problems, where + ": subset", raw, ("name", "labels"))
    _check_dns_label(problems, where, "subset.name", raw.get("name"))
    return Subset(raw.get("name"), _check_labels(problems, where, "subset.labels", raw.get("labels")))


def _item_where(problems, where, raw, fields):
    """Where an item of a list variable is, named when it has a name; None (a problem added) unless a mapping.
    Its unknown fields and its name are checked."""
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping")
        return None
    if isinstance(raw.get("name"), str):
        where += " (%s)" % raw["name"]
    _check_unknown_keys(problems, where, raw, fields)
    _check_dns_label(problems, where, "name", raw.get("name"))
    return where


def _parse_export(problems, cluster, index, raw):
    where = _item_where(problems, "%s: meshfed_exports[%d]" % (cluster, index), raw, EXPORT_FIELDS)
    if where is None:
        return None
    service = raw.get("service")
    if not isinstance(service, dict):
        problems.add(where, "service is required: a mapping with namespace, name and port")
        service = {}
    else:
        _check_unknown_keys(problems, where + ": service", service, ("namespace", "name", "port"))
        _check_dns_label(problems, where, "service.namespace", service.get("namespace"))
        _check_dns_label(problems, where, "service.name", service.get("name"))
        _check_port(problems, where, "service.port", service.get("port"))
    protocol = raw.get("protocol", "http")
    if protocol not in PROTOCOLS:
        problems.add(where, "protocol '%s' must be one of %s" % (protocol, ", ".join(PROTOCOLS)))
    path_prefix = raw.get("path_prefix")
    rewrite_prefix = raw.get("rewrite_prefix")
    if protocol != "http" and (path_prefix is not None or rewrite_prefix is not None):
        problems.add(where, "path_prefix and rewrite_prefix apply to http exports only (this one is %s: routed by SNI)" % protocol)
    for field, value in (("path_prefix", path_prefix), ("rewrite_prefix", rewrite_prefix)):
        if value is not None and (not isinstance(value, str) or not value.startswith("/")):
            problems.add(where, "%s %r must start with '/'" % (field, value))
    if protocol == "http":
        path_prefix = path_prefix or "/"
        rewrite_prefix = rewrite_prefix or path_prefix
    probe_path = _check_probe_path(problems, where, protocol, path_prefix, raw.get("probe_path"))
    consumers = raw.get("consumers")
    if not isinstance(consumers, list) or not consumers:
        problems.add(where, "consumers must list at least one cluster allowed to use this export")
        consumers = []
    access = [_parse_consumer(problems, "%s: consumers[%d]" % (where, c_index), raw_consumer, protocol)
              for c_index, raw_consumer in enumerate(consumers)]
    return Export(
        name=raw.get("name"),
        service=ServiceRef(service.get("namespace"), service.get("name"), service.get("port")),
        subset=_parse_subset(problems, where, raw.get("subset")),
        protocol=protocol,
        path_prefix=path_prefix,
        rewrite_prefix=rewrite_prefix,
        consumers=tuple(name for name, dummy, dummy in access),
        probe_path=probe_path,
        # hosts and identities come with the cross-references, once every party is known
        grants=tuple(Grant(name, None, None, methods, paths, None) for name, methods, paths in access),
    )


def _parse_consumer(problems, where, raw, protocol):
    """(cluster, methods, paths) of one consumers entry: a cluster name, or a mapping with cluster and the HTTP
    methods and paths it may use."""
    if isinstance(raw, str):
        return raw, None, None
    if not isinstance(raw, dict):
        problems.add(where, "must be a cluster name or a mapping with cluster, methods and paths")
        return None, None, None
    _check_unknown_keys(problems, where, raw, ("cluster", "methods", "paths"))
    if not isinstance(raw.get("cluster"), str) or not raw.get("cluster"):
        problems.add(where, "cluster is required")
    methods, paths = raw.get("methods"), raw.get("paths")
    if protocol != "http" and (methods is not None or paths is not None):
        problems.add(where, "methods and paths apply to http exports only (this one is %s)" % protocol)
        return raw.get("cluster"), None, None
    if methods is not None:
        if not isinstance(methods, list) or not methods or any(m not in HTTP_METHODS for m in methods):
            problems.add(where, "methods %r must be a non-empty list of %s" % (methods, ", ".join(HTTP_METHODS)))
            methods = None
        else:
            methods = tuple(methods)
    if paths is not None:
        if not isinstance(paths, list) or not paths or any(not _is_policy_path(p) for p in paths):
            problems.add(where, "paths %r must be a non-empty list of paths such as /reviews/0, /reviews/* (a prefix) "
                                "or *.json (a suffix)" % (paths,))
            paths = None
        else:
            paths = tuple(paths)
    return raw.get("cluster"), methods, paths


def _is_policy_path(path):
    """An AuthorizationPolicy path: exact, prefix (``/a/*``), suffix (``*.json``) or any (``*``)."""
    return (isinstance(path, str) and bool(path) and not any(c.isspace() for c in path)
            and (path.startswith("/") or path.startswith("*")) and "*" not in path[1:-1]
            and not (len(path) > 1 and path.startswith("*") and path.endswith("*")))


def path_is_under(path, prefix):
    """Whether a request for ``path`` (its query string aside) is inside ``prefix`` whether the prefix is matched
    as a string or segment by segment: ``/details/0`` and ``/details`` are under ``/details``, ``/detailsx`` is not."""
    path = path.split("?", 1)[0]
    return path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")


def _check_probe_path(problems, where, protocol, path_prefix, probe_path):
    """The path link probes request on an http export (``GET probe_path``), or None."""
    if probe_path is None:
        return None
    if protocol != "http":
        problems.add(where, "probe_path applies to http exports only (this one is %s: its probe is a handshake)" % protocol)
        return None
    if not isinstance(probe_path, str) or not probe_path.startswith("/"):
        problems.add(where, "probe_path %r must start with '/'" % (probe_path,))
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in probe_path):
        problems.add(where, "probe_path %r must not contain spaces or control characters" % (probe_path,))
        return None
    if isinstance(path_prefix, str) and path_prefix.startswith("/") and not path_is_under(probe_path, path_prefix):
        problems.add(where, "probe_path %s is not under the export's path_prefix %s, where peers have no route"
                     % (probe_path, path_prefix))
        return None
    return probe_path


def _parse_import(problems, cluster, index, raw):
    where = _item_where(problems, "%s: meshfed_imports[%d]" % (cluster, index), raw, IMPORT_FIELDS)
    if where is None:
        return None
    _check_dns_label(problems, where, "namespace", raw.get("namespace"))
    _check_port(problems, where, "port", raw.get("port"))
    protocol = raw.get("protocol", "http")
    if protocol not in PROTOCOLS:
        problems.add(where, "protocol '%s' must be one of %s" % (protocol, ", ".join(PROTOCOLS)))
    sources = []
    raw_sources = raw.get("from")
    if not isinstance(raw_sources, list) or not raw_sources:
        problems.add(where, "from must list at least one {cluster, export} to consume")
        raw_sources = []
    for s_index, source in enumerate(raw_sources):
        s_where = "%s: from[%d]" % (where, s_index)
        if not isinstance(source, dict):
            problems.add(s_where, "must be a mapping with cluster, export and optional weight")
            continue
        _check_unknown_keys(problems, s_where, source, ("cluster", "export", "weight"))
        for field in ("cluster", "export"):
            if not isinstance(source.get(field), str) or not source.get(field):
                problems.add(s_where, "%s is required" % field)
        sources.append(RemoteSource(source.get("cluster"), source.get("export"), source.get("weight")))
    local = None
    raw_local = raw.get("local")
    if raw_local is not None:
        l_where = where + ": local"
        if not isinstance(raw_local, dict):
            problems.add(l_where, "must be a mapping with weight and optional subset")
        else:
            _check_unknown_keys(problems, l_where, raw_local, ("subset", "weight"))
            local = LocalSource(_parse_subset(problems, l_where, raw_local.get("subset")), raw_local.get("weight"))
    timeout = raw.get("timeout")
    retries = None
    if protocol != "http" and (timeout is not None or raw.get("retries") is not None):
        problems.add(where, "timeout and retries apply to http imports only (this one is %s)" % protocol)
    if timeout is not None:
        timeout = _check_duration(problems, where, "timeout", timeout)
    if raw.get("retries") is not None:
        retries = _parse_retries(problems, where, raw["retries"])
    return Import(raw.get("name"), raw.get("namespace"), raw.get("port"), protocol,
                  tuple(sources), local, timeout, retries)


def _parse_retries(problems, where, raw):
    if not isinstance(raw, dict):
        problems.add(where, "retries must be a mapping with attempts, per_try_timeout and retry_on")
        return None
    _check_unknown_keys(problems, where + ": retries", raw, ("attempts", "per_try_timeout", "retry_on"))
    attempts = raw.get("attempts", 2)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        problems.add(where, "retries.attempts %r must be a non-negative integer" % (attempts,))
    per_try = raw.get("per_try_timeout")
    if per_try is not None:
        _check_duration(problems, where, "retries.per_try_timeout", per_try)
    return Retries(attempts, per_try, raw.get("retry_on"))


def _parse_cluster(problems, name, raw, settings):
    where = name
    if not isinstance(raw, dict):
        problems.add(where, "cluster description must be a mapping")
        raw = {}
    _check_unknown_keys(problems, where, raw, CLUSTER_FIELDS)
    _check_dns_label(problems, where, "cluster name", name)
    identity = raw.get("identity")
    if not identity:
        problems.add(where, "meshfed_identity is missing: every cluster needs a DNS identity such as c1.example.com")
    elif not is_dns_name(identity):
        problems.add(where, "meshfed_identity %r is not a valid lowercase DNS name" % (identity,))
    exports_raw = raw.get("exports") or []
    imports_raw = raw.get("imports") or []
    if not isinstance(exports_raw, list):
        problems.add(where, "meshfed_exports must be a list")
        exports_raw = []
    if not isinstance(imports_raw, list):
        problems.add(where, "meshfed_imports must be a list")
        imports_raw = []
    exports = [_parse_export(problems, name, i, e) for i, e in enumerate(exports_raw)]
    imports = [_parse_import(problems, name, i, e) for i, e in enumerate(imports_raw)]
    return Cluster(
        name=name,
        identity=identity,
        gateway_address=_parse_gateway_address(problems, where, raw.get("gateway_address"), settings),
        exports=tuple(e for e in exports if e is not None),
        imports=tuple(i for i in imports if i is not None),
        party=settings.party if settings.ca_scope == "federation" else name,
        consumes_from=tuple(sorted({peer_of(s.cluster) for i in imports if i is not None for s in i.sources
                                    if peer_of(s.cluster)})),
    )


def _check_unique(problems, where, field, values):
    seen = set()
    for value in values:
        if value in seen:
            problems.add(where, "duplicate %s '%s'" % (field, value))
        seen.add(value)


def peer_of(cluster_name):
    """The peer party of a cluster named ``<peer>/<cluster>``, None for a cluster of this inventory."""
    if isinstance(cluster_name, str) and PEER_SEPARATOR in cluster_name:
        return cluster_name.split(PEER_SEPARATOR, 1)[0]
    return None


def name_part(cluster_name):
    """A cluster's name as part of an object name (``org-b/cluster2`` -> ``org-b-cluster2``)."""
    return cluster_name.replace(PEER_SEPARATOR, "-")


def grant_host(export_name, exporter, consumer_party):
    """The SNI host (and HTTP authority) under which a consumer of one party reaches an export: one Gateway server
    each, so each server trusts one party's CA only. The exporter's own party keeps ``<export>.<identity>``."""
    if consumer_party == exporter.party:
        return "%s.%s" % (export_name, exporter.identity)
    return "%s.%s.%s" % (export_name, consumer_party, exporter.identity)


def cluster_of(federation, name):
    """A cluster of this inventory or, named ``<peer>/<cluster>``, of a peer's bundle; None if unknown."""
    peer = peer_of(name)
    if peer is None:
        return federation.clusters.get(name)
    return federation.peers[peer].clusters.get(name) if peer in federation.peers else None


def grant_for(export, consumer):
    """The Grant of ``export`` to the cluster named ``consumer``."""
    return next(g for g in export.grants if g.consumer == consumer)


def known_grants(export):
    """The grants whose consumer's identity is known (not waiting for its party's bundle)."""
    return [g for g in export.grants if g.identity is not None]


def consumer_parties(federation, cluster):
    """The peer parties that consume an export of one cluster of this inventory (known grants)."""
    return sorted({g.party for e in cluster.exports for g in known_grants(e)} - {cluster.party})


def source_parties(federation, cluster):
    """The peer parties one cluster of this inventory imports from."""
    return sorted({cluster_of(federation, s.cluster).party for i in cluster.imports for s in i.sources}
                  - {cluster.party})


def peer_parties(federation, cluster):
    """The peer parties one cluster of this inventory deals with: consumers of its exports (known ones) and
    sources of its imports, each needing its own trust bundle."""
    return sorted(set(consumer_parties(federation, cluster)) | set(source_parties(federation, cluster)))


def _check_cross_references(problems, clusters, peers, settings):
    """The clusters with their grants resolved (consumer identities and hosts) and without the imports waiting for
    a pending peer; and the sentences saying what was skipped."""
    identities = {}
    for cluster in clusters.values():
        if cluster.identity in identities:
            problems.add(cluster.name, "meshfed_identity '%s' is also used by %s" % (cluster.identity, identities[cluster.identity]))
        identities.setdefault(cluster.identity, cluster.name)
    skipped = []
    resolved = {}
    for cluster in clusters.values():
        _check_unique(problems, cluster.name, "export name in meshfed_exports", [e.name for e in cluster.exports])
        _check_unique(problems, cluster.name, "import (namespace/name) in meshfed_imports",
                      ["%s/%s" % (i.namespace, i.name) for i in cluster.imports])
        exports = tuple(_check_consumers(problems, clusters, peers, cluster, index, export)
                        for index, export in enumerate(cluster.exports))
        imports = []
        for index, imported in enumerate(cluster.imports):
            waiting = _check_import_sources(problems, clusters, peers, cluster, index, imported)
            if waiting:
                skipped.append("%s: meshfed_imports[%d] (%s) is left out: it waits for a peering bundle that grants "
                               "it (%s)" % (cluster.name, index, imported.name, ", ".join(waiting)))
            else:
                imports.append(imported)
        resolved[cluster.name] = cluster._replace(exports=exports, imports=tuple(imports))
    for cluster in resolved.values():
        for export in cluster.exports:
            pending = sorted({peer_of(g.consumer) for g in export.grants
                              if peer_of(g.consumer) in peers and peers[peer_of(g.consumer)].bundle is None})
            if pending:
                skipped.append("%s: export %s is not served to %s until their peering bundle is in place"
                               % (cluster.name, export.name, ", ".join(pending)))
    return resolved, skipped


def _check_consumers(problems, clusters, peers, cluster, index, export):
    """The export with each grant's consumer identity and host."""
    where = "%s: meshfed_exports[%d] (%s)" % (cluster.name, index, export.name)
    _check_unique(problems, where, "consumer", export.consumers)
    grants = []
    for c_index, grant in enumerate(export.grants):
        consumer = grant.consumer
        peer = peer_of(consumer)
        identity, party = None, cluster.party
        if consumer is None:
            continue
        if consumer == cluster.name:
            problems.add(where, "consumers[%d]: a cluster cannot consume its own export" % c_index)
        elif peer is None and consumer not in clusters:
            problems.add(where, "consumers[%d]: unknown cluster '%s' (known: %s)"
                         % (c_index, consumer, ", ".join(sorted(clusters))))
        elif peer is None:
            identity, party = clusters[consumer].identity, clusters[consumer].party
        elif peer not in peers:
            problems.add(where, "consumers[%d]: '%s' names peer '%s', which meshfed_peers does not list (peers: %s)"
                         % (c_index, consumer, peer, ", ".join(sorted(peers)) or "none"))
        elif peers[peer].bundle is not None:
            remote = peers[peer].clusters.get(consumer)
            if remote is None:
                problems.add(where, "consumers[%d]: the peering bundle of %s has no cluster '%s' (bundle field "
                             "body.clusters: %s)" % (c_index, peer, consumer.split(PEER_SEPARATOR, 1)[1],
                                                     _remote_names(peers[peer])))
            else:
                identity = remote.identity
        party = peer or party
        grants.append(grant._replace(identity=identity, party=party, host=grant_host(export.name, cluster, party)))
    return export._replace(grants=tuple(grants))


def _remote_names(peer):
    return ", ".join(sorted(name.split(PEER_SEPARATOR, 1)[1] for name in peer.clusters)) or "none"


def _check_import_sources(problems, clusters, peers, cluster, index, imported):
    """The pending peers the import waits for (it is left out until their bundles are in place)."""
    where = "%s: meshfed_imports[%d] (%s)" % (cluster.name, index, imported.name)
    _check_unique(problems, where, "source (cluster/export) in from", ["%s/%s" % (s.cluster, s.export) for s in imported.sources])
    waiting, withdrawn = set(), set()
    for s_index, source in enumerate(imported.sources):
        s_where = "%s: from[%d]" % (where, s_index)
        peer_name = peer_of(source.cluster)
        if source.cluster == cluster.name:
            problems.add(s_where, "cluster '%s' is this cluster: use local to route to the local copy" % source.cluster)
            continue
        if peer_name is None:
            exporter, what = clusters.get(source.cluster), "cluster '%s'" % source.cluster
            if exporter is None:
                problems.add(s_where, "unknown peer cluster '%s' (known: %s)" % (source.cluster, ", ".join(sorted(clusters))))
                continue
        else:
            peer = peers.get(peer_name)
            if peer is None:
                problems.add(s_where, "cluster '%s' names peer '%s', which meshfed_peers does not list (peers: %s)"
                             % (source.cluster, peer_name, ", ".join(sorted(peers)) or "none"))
                continue
            if peer.bundle is None:
                waiting.add(peer_name)
                continue
            exporter = peer.clusters.get(source.cluster)
            what = "cluster '%s' in the peering bundle of %s" % (source.cluster, peer_name)
            if exporter is None:
                problems.add(s_where, "the peering bundle of %s has no cluster '%s' (bundle field body.clusters: %s)"
                             % (peer_name, source.cluster.split(PEER_SEPARATOR, 1)[1], _remote_names(peer)))
                continue
        if peer_name is not None and PEER_SEPARATOR.join((source.cluster, source.export)) in peer.withdrawn:
            withdrawn.add("%s (%s withdrew export %s)" % (peer_name, source.cluster, source.export))
            continue
        _check_source_export(problems, s_where, what, cluster, imported, source, exporter)
    waiting.update(withdrawn)
    if not waiting:
        _check_weights(problems, where, imported)
    return sorted(waiting)


def _check_source_export(problems, where, what, cluster, imported, source, exporter):
    export = next((e for e in exporter.exports if e.name == source.export), None)
    field = "" if peer_of(exporter.name) is None else " (bundle field body.clusters[].exports)"
    if export is None:
        offered = ", ".join(sorted(e.name for e in exporter.exports)) or "none"
        problems.add(where, "%s has no export named '%s'%s (it exports: %s)" % (what, source.export, field, offered))
        return
    if cluster.name not in export.consumers:
        problems.add(where, "export '%s' of %s is not granted to %s%s (its consumers: %s)"
                     % (export.name, what, cluster.name, field.replace("exports", "exports[].consumers"),
                        ", ".join(export.consumers) or "none"))
    if export.protocol != imported.protocol:
        problems.add(where, "protocol %s does not match export '%s' of %s, which is %s%s"
                     % (imported.protocol, export.name, exporter.name if not field else what, export.protocol,
                        field.replace("exports", "exports[].protocol")))


def _check_weights(problems, where, imported):
    destinations = list(imported.sources) + ([imported.local] if imported.local else [])
    weights = [d.weight for d in destinations]
    if len(destinations) == 1 and weights[0] in (None, 100):
        return
    if any(w is None for w in weights):
        problems.add(where, "weight is required on every source%s when traffic is split across %d destinations"
                     % (" and on local" if imported.local else "", len(destinations)))
        return
    if any(isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100 for w in weights):
        problems.add(where, "weights must be integers between 0 and 100, got %s" % weights)
        return
    if sum(weights) != 100:
        problems.add(where, "weights %s add up to %d, not 100" % (weights, sum(weights)))


def build_model(clusters, settings=None, peers=None, errors=()):
    """Validate the inventory's clusters and return a ``Federation``; raise ``FederationModelError``.

    ``peers``: one mapping per meshfed_peers entry, ``{name, where, bundle, signer}``, ``bundle`` the body of its
    verified peering bundle (module_utils/bundle.py) or None while it has none; ``errors``: the problems found
    reading and verifying the bundles, reported with the inventory's."""
    problems = _Problems()
    problems.errors.extend(errors)
    parsed_settings = _parse_settings(problems, settings)
    if not isinstance(clusters, dict) or not clusters:
        problems.add("inventory", "no clusters: put the clusters in the inventory group meshfed_clusters")
        clusters = {}
    parsed = {name: _parse_cluster(problems, name, raw, parsed_settings) for name, raw in sorted(clusters.items())}
    parsed_peers = _parse_peers(problems, peers or [], parsed_settings, parsed)
    resolved, skipped = _check_cross_references(problems, parsed, parsed_peers, parsed_settings)
    if problems.errors:
        raise FederationModelError(problems.errors)
    return Federation(parsed_settings, resolved, parsed_peers, tuple(skipped))


def _parse_peers(problems, raw_peers, settings, clusters):
    # identity -> who holds it: a certificate identity belongs to one party
    claimed = dict((c.identity, "%s in this inventory (meshfed_identity)" % c.name) for c in clusters.values())
    peers = {}
    for raw in raw_peers:
        name, where = raw.get("name"), "peer %s" % raw.get("name")
        if name in peers:
            problems.add(raw.get("where", where), "duplicate peer '%s'" % name)
            continue
        if name == settings.party:
            problems.add(raw.get("where", where), "peer '%s' is this inventory's own party (meshfed_party)" % name)
        if settings.ca_scope != "federation":
            problems.add(raw.get("where", where), "peers need meshfed_ca_scope: federation (the inventory is one "
                         "party, with one CA, that signs its bundles), not %s" % settings.ca_scope)
        body = raw.get("bundle")
        remote = {}
        cas = ()
        if body is not None:
            cas = tuple(body.get("cas") or ())
            raw_clusters = body.get("clusters")
            if not isinstance(raw_clusters, list):
                problems.add(where, "bundle field body.clusters must be a list")
                raw_clusters = []
            for index, raw_cluster in enumerate(raw_clusters):
                c_where = "%s: bundle field body.clusters[%d]" % (where, index)
                cluster = _parse_remote_cluster(problems, c_where, name, raw_cluster, settings, clusters)
                if cluster is None:
                    continue
                if cluster.name in remote:
                    problems.add(c_where, "duplicate cluster name '%s'" % raw_cluster["name"])
                    continue
                if cluster.identity in claimed:
                    problems.add(c_where, "identity '%s' is also the identity of %s: one certificate identity, two "
                                 "parties" % (cluster.identity, claimed[cluster.identity]))
                claimed.setdefault(cluster.identity, "%s of peer %s" % (raw_cluster["name"], name))
                remote[cluster.name] = cluster
        # once withdrawn, until granted again: the import stays left out, run after run, until the inventory drops it
        withdrawn = sorted((_granted(raw.get("previous"), name, clusters) | set(raw.get("withdrawn") or ()))
                           - _granted(body, name, clusters))
        peers[name] = Peer(name, cas, remote, body, raw.get("signer"), tuple(withdrawn) if body is not None else ())
    return peers


def _granted(body, peer, clusters):
    """``<peer>/<cluster>/<export>`` of each export a bundle body grants to one of ``clusters``."""
    granted = set()
    for cluster in (body or {}).get("clusters") or []:
        for export in (cluster.get("exports") or []) if isinstance(cluster, dict) else []:
            consumers = [c.get("cluster") for c in export.get("consumers") or [] if isinstance(c, dict)]
            if any(c in clusters for c in consumers):
                granted.add(PEER_SEPARATOR.join((peer, str(cluster.get("name")), str(export.get("name")))))
    return granted


def _parse_remote_cluster(problems, where, peer, raw, settings, clusters):
    """One cluster of a peer's bundle, named ``<peer>/<cluster>``, with the exports it grants to our clusters."""
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping")
        return None
    _check_unknown_keys(problems, where, raw, ("name", "identity", "gateway_address", "consumer", "exports"))
    if not _check_dns_label(problems, where, "name", raw.get("name")):
        return None
    identity = raw.get("identity")
    if not is_dns_name(identity):
        problems.add(where, "identity %r is not a lowercase DNS name" % (identity,))
    address = raw.get("gateway_address")
    if address is not None:
        address = _parse_gateway_address(problems, where + ": gateway_address", address, settings)
    exports = []
    for index, raw_export in enumerate(raw.get("exports") or []):
        export = _parse_remote_export(problems, "%s.exports[%d]" % (where, index), raw_export, clusters)
        if export is not None:
            exports.append(export)
    if exports and not isinstance(address, GatewayAddress):
        problems.add(where, "gateway_address is required with exports: where consumers dial them")
    return Cluster(peer + PEER_SEPARATOR + raw["name"], identity, address, tuple(exports), (), peer,
                   (settings.party,) if raw.get("consumer") else ())


def _parse_remote_export(problems, where, raw, clusters):
    """An export of a peer's cluster as its bundle grants it: to which of our clusters, under which host."""
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping")
        return None
    _check_unknown_keys(problems, where, raw, ("name", "protocol", "host", "port", "path_prefix", "consumers"))
    _check_dns_label(problems, where, "name", raw.get("name"))
    protocol = raw.get("protocol")
    if protocol not in PROTOCOLS:
        problems.add(where, "protocol %r must be one of %s" % (protocol, ", ".join(PROTOCOLS)))
    host = raw.get("host")
    if not is_dns_name(host):
        problems.add(where, "host %r is not a lowercase DNS name" % (host,))
    if raw.get("port") is not None:
        _check_port(problems, where, "port", raw.get("port"))
    grants = []
    for c_index, consumer in enumerate(raw.get("consumers") or []):
        name = consumer.get("cluster") if isinstance(consumer, dict) else None
        if not isinstance(name, str):
            problems.add("%s.consumers[%d]" % (where, c_index), "cluster is required")
            continue
        if name in clusters:  # grants to clusters this inventory does not have are not ours to use
            grants.append(Grant(name, clusters[name].identity, host, None, None, clusters[name].party))
    return Export(raw.get("name"), None, None, protocol, raw.get("path_prefix"), None,
                  tuple(g.consumer for g in grants), None, tuple(grants))


def find_export(federation, cluster_name, export_name):
    return next(e for e in cluster_of(federation, cluster_name).exports if e.name == export_name)


def clusters_needing_address(federation):
    """Names of this inventory's clusters whose gateway address must be known: some cluster imports from them, or
    a peer party is granted one of their exports (its bundle carries the address)."""
    needed = {s.cluster for c in federation.clusters.values() for i in c.imports for s in i.sources}
    needed.update(c.name for c in federation.clusters.values()
                  if any(peer_of(g.consumer) for e in c.exports for g in e.grants))
    return sorted(name for name in needed if name in federation.clusters)


# --- the validated model as plain data: what federation_model hands on, so no module validates it again ---

MODEL_TYPES = dict((t.__name__, t) for t in (Settings, TcpKeepalive, ServiceRef, Subset, GatewayAddress, Grant, Export,
                                             RemoteSource, LocalSource, Retries, Import, Cluster, Peer, Federation))
# a namedtuple is {TYPE_KEY: its type, VALUES_KEY: its fields in order}: neither key can be a label key or a
# cluster name (those start with a letter, a digit or '_')
TYPE_KEY = "@type"
VALUES_KEY = "@values"


def model_data(value):
    """The model as JSON-able data: namedtuples tagged with their type, tuples as lists."""
    if isinstance(value, tuple) and type(value).__name__ in MODEL_TYPES:
        return {TYPE_KEY: type(value).__name__, VALUES_KEY: [model_data(v) for v in value]}
    if isinstance(value, (tuple, list)):
        return [model_data(v) for v in value]
    if isinstance(value, dict):
        return dict((k, model_data(v)) for k, v in value.items())
    return value


def model_from_data(data):
    """The model ``model_data`` gave; KeyError or TypeError for data of another shape."""
    if isinstance(data, dict) and TYPE_KEY in data:
        return MODEL_TYPES[data[TYPE_KEY]](*[model_from_data(v) for v in data[VALUES_KEY]])
    if isinstance(data, list):
        return tuple(model_from_data(v) for v in data)
    if isinstance(data, dict):
        return dict((k, model_from_data(v)) for k, v in data.items())
    return data
