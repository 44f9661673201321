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

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# a lowercase DNS name: labels of at most 63 characters, 253 in all (a cluster's identity, an address)
DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$")
PROTOCOLS = ("http", "tcp", "tls")
CERT_DELIVERIES = ("sds", "file")
ISTIO_API_VERSIONS = ("networking.istio.io/v1", "networking.istio.io/v1beta1")
DISCOVER = "discover"
BOOLEAN_STRINGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}

DEFAULT_SETTINGS = {
    "federation_name": "meshfed",
    "gateway_namespace": "istio-private-gateways",
    "istio_api_version": "networking.istio.io/v1",
    "cert_delivery": "sds",
    "cluster_domain": "cluster.local",
    "ingress_port": 15443,
    "egress_port": 443,
    "ingress_service_type": "LoadBalancer",
    "autoscale_min": 1,
    "autoscale_max": 5,
    "autoscale_cpu_percent": 80,
    "gateway_image": "auto",
    "istio_revision": None,
    "allow_local_gateway_addresses": False,
}

Settings = namedtuple("Settings", sorted(DEFAULT_SETTINGS))
ServiceRef = namedtuple("ServiceRef", "namespace name port")
Subset = namedtuple("Subset", "name labels")
GatewayAddress = namedtuple("GatewayAddress", "address port")
Export = namedtuple("Export", "name service subset protocol path_prefix rewrite_prefix consumers probe_path")
RemoteSource = namedtuple("RemoteSource", "cluster export weight")
LocalSource = namedtuple("LocalSource", "subset weight")
Retries = namedtuple("Retries", "attempts per_try_timeout retry_on")
Import = namedtuple("Import", "name namespace port protocol sources local timeout retries")
Cluster = namedtuple("Cluster", "name identity gateway_address exports imports")
Federation = namedtuple("Federation", "settings clusters")

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
    return short_name(imported.name, source.cluster, source.export)


def export_host(export, exporter):
    """The SNI name and HTTP authority under which a peer reaches one export."""
    return "%s.%s" % (export.name, exporter.identity)


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


def _parse_settings(problems, raw):
    merged = dict(DEFAULT_SETTINGS)
    raw = raw or {}
    _check_unknown_keys(problems, "settings", raw, sorted(DEFAULT_SETTINGS))
    merged.update({k: v for k, v in raw.items() if k in DEFAULT_SETTINGS and v is not None})
    _check_dns_label(problems, "settings", "federation_name", merged["federation_name"])
    _check_dns_label(problems, "settings", "gateway_namespace", merged["gateway_namespace"])
    if merged["istio_api_version"] not in ISTIO_API_VERSIONS:
        problems.add("settings", "istio_api_version '%s' must be one of %s"
                     % (merged["istio_api_version"], ", ".join(ISTIO_API_VERSIONS)))
    if merged["cert_delivery"] not in CERT_DELIVERIES:
        problems.add("settings", "cert_delivery '%s' must be one of %s" % (merged["cert_delivery"], ", ".join(CERT_DELIVERIES)))
    for port_field in ("ingress_port", "egress_port"):
        _check_port(problems, "settings", port_field, merged[port_field])
    if merged["ingress_service_type"] not in ("LoadBalancer", "NodePort", "ClusterIP"):
        problems.add("settings", "ingress_service_type '%s' must be LoadBalancer, NodePort or ClusterIP" % merged["ingress_service_type"])
    counts = [merged[k] for k in ("autoscale_min", "autoscale_max", "autoscale_cpu_percent")]
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in counts):
        problems.add("settings", "autoscale_min, autoscale_max and autoscale_cpu_percent must be positive integers")
    elif merged["autoscale_min"] > merged["autoscale_max"]:
        problems.add("settings", "autoscale_min (%d) is greater than autoscale_max (%d)" % (merged["autoscale_min"], merged["autoscale_max"]))
    if merged["istio_revision"] == "":
        merged["istio_revision"] = None
    if merged["istio_revision"] is not None:
        _check_dns_label(problems, "settings", "istio_revision (meshfed_istio_revision)", merged["istio_revision"])
    allow_local = _as_bool(merged["allow_local_gateway_addresses"])
    if allow_local is None:
        problems.add("settings", "allow_local_gateway_addresses (meshfed_allow_local_gateway_addresses) %r must be true or false"
                     % (merged["allow_local_gateway_addresses"],))
    merged["allow_local_gateway_addresses"] = bool(allow_local)
    return Settings(**merged)


def _as_bool(value):
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
    return Export(
        name=raw.get("name"),
        service=ServiceRef(service.get("namespace"), service.get("name"), service.get("port")),
        subset=_parse_subset(problems, where, raw.get("subset")),
        protocol=protocol,
        path_prefix=path_prefix,
        rewrite_prefix=rewrite_prefix,
        consumers=tuple(consumers),
        probe_path=probe_path,
    )


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
    )


def _check_unique(problems, where, field, values):
    seen = set()
    for value in values:
        if value in seen:
            problems.add(where, "duplicate %s '%s'" % (field, value))
        seen.add(value)


def _check_cross_references(problems, clusters):
    identities = {}
    for cluster in clusters.values():
        if cluster.identity in identities:
            problems.add(cluster.name, "meshfed_identity '%s' is also used by %s" % (cluster.identity, identities[cluster.identity]))
        identities.setdefault(cluster.identity, cluster.name)
        _check_unique(problems, cluster.name, "export name in meshfed_exports", [e.name for e in cluster.exports])
        _check_unique(problems, cluster.name, "import (namespace/name) in meshfed_imports",
                      ["%s/%s" % (i.namespace, i.name) for i in cluster.imports])
        for index, export in enumerate(cluster.exports):
            _check_consumers(problems, clusters, cluster, index, export)
        for index, imported in enumerate(cluster.imports):
            _check_import_sources(problems, clusters, cluster, index, imported)


def _check_consumers(problems, clusters, cluster, index, export):
    where = "%s: meshfed_exports[%d] (%s)" % (cluster.name, index, export.name)
    _check_unique(problems, where, "consumer", export.consumers)
    for c_index, consumer in enumerate(export.consumers):
        if consumer == cluster.name:
            problems.add(where, "consumers[%d]: a cluster cannot consume its own export" % c_index)
        elif consumer not in clusters:
            problems.add(where, "consumers[%d]: unknown cluster '%s' (known: %s)" % (c_index, consumer, ", ".join(sorted(clusters))))


def _check_import_sources(problems, clusters, cluster, index, imported):
    where = "%s: meshfed_imports[%d] (%s)" % (cluster.name, index, imported.name)
    _check_unique(problems, where, "source (cluster/export) in from", ["%s/%s" % (s.cluster, s.export) for s in imported.sources])
    for s_index, source in enumerate(imported.sources):
        s_where = "%s: from[%d]" % (where, s_index)
        peer = clusters.get(source.cluster)
        if source.cluster == cluster.name:
            problems.add(s_where, "cluster '%s' is this cluster: use local to route to the local copy" % source.cluster)
            continue
        if peer is None:
            problems.add(s_where, "unknown peer cluster '%s' (known: %s)" % (source.cluster, ", ".join(sorted(clusters))))
            continue
        export = next((e for e in peer.exports if e.name == source.export), None)
        if export is None:
            offered = ", ".join(sorted(e.name for e in peer.exports)) or "none"
            problems.add(s_where, "cluster '%s' has no export named '%s' (it exports: %s)" % (peer.name, source.export, offered))
            continue
        if cluster.name not in export.consumers:
            problems.add(s_where, "export '%s' of cluster '%s' is not granted to %s (its consumers: %s)"
                         % (export.name, peer.name, cluster.name, ", ".join(export.consumers) or "none"))
        if export.protocol != imported.protocol:
            problems.add(s_where, "protocol %s does not match export '%s' of %s, which is %s"
                         % (imported.protocol, export.name, peer.name, export.protocol))
    _check_weights(problems, where, imported)


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


def build_model(clusters, settings=None):
    """Validate the inventory's clusters and return a ``Federation``; raise ``FederationModelError``."""
    problems = _Problems()
    parsed_settings = _parse_settings(problems, settings)
    if not isinstance(clusters, dict) or not clusters:
        problems.add("inventory", "no clusters: put the clusters in the inventory group meshfed_clusters")
        clusters = {}
    parsed = {name: _parse_cluster(problems, name, raw, parsed_settings) for name, raw in sorted(clusters.items())}
    _check_cross_references(problems, parsed)
    if problems.errors:
        raise FederationModelError(problems.errors)
    return Federation(parsed_settings, parsed)


def find_export(federation, cluster_name, export_name):
    return next(e for e in federation.clusters[cluster_name].exports if e.name == export_name)


def clusters_needing_address(federation):
    """Names of exporting clusters some peer imports from: their gateway address must be known."""
    return sorted({s.cluster for c in federation.clusters.values() for i in c.imports for s in i.sources})


# --- the validated model as plain data: what federation_model hands on, so no module validates it again ---

MODEL_TYPES = dict((t.__name__, t) for t in (Settings, ServiceRef, Subset, GatewayAddress, Export, RemoteSource,
                                             LocalSource, Retries, Import, Cluster, Federation))
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
