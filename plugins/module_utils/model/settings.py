# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation-wide settings (meshfed_<setting>): their defaults and their parsing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple
import ipaddress
from ansible_collections.meshfed.federation.plugins.module_utils.model.istio_version import AUTO, parse_version
from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import (
    KEEPALIVE_MAX_PROBES, KEEPALIVE_MAX_SECONDS, LABEL_KEY_NAME, check_dns_label, check_port,
    check_unknown_keys, as_bool, duration_seconds, is_dns_name)
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    CA_SCOPES, CERT_DELIVERIES, EXTERNAL_TRAFFIC_POLICIES, ISTIO_API_VERSIONS, RESERVED_ANNOTATION_PREFIX,
    SERVICE_TYPES, TcpKeepalive)

DEFAULT_SETTINGS = {
    "federation_name": "meshfed",
    "party": None,
    "ca_scope": "federation",
    "gateway_namespace": "istio-private-gateways",
    "istio_api_version": "networking.istio.io/v1",
    "cert_delivery": "sds",
    "cluster_domain": "cluster.local",
    # the trust domain of the Istio meshes of this inventory's clusters (meshConfig.trustDomain): their workloads'
    # SPIFFE IDs, which an export's granted callers are matched against
    "trust_domain": "cluster.local",
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


def setting_var(key):
    """The inventory variable of a federation-wide setting, as users write it."""
    return "meshfed_" + key


def parse_settings(problems, raw):
    """The settings, each problem naming the variable (meshfed_<setting>) the user wrote."""
    merged = dict(DEFAULT_SETTINGS)
    raw = raw or {}
    where = "settings"
    check_unknown_keys(problems, where, raw, sorted(DEFAULT_SETTINGS))
    merged.update({k: v for k, v in raw.items() if k in DEFAULT_SETTINGS and v is not None})
    for key in ("federation_name", "gateway_namespace"):
        check_dns_label(problems, where, setting_var(key), merged[key])
    if merged["party"]:
        check_dns_label(problems, where, setting_var("party"), merged["party"])
    merged["party"] = merged["party"] or merged["federation_name"]  # checked as meshfed_federation_name then
    for key, allowed in (("ca_scope", CA_SCOPES), ("istio_api_version", ISTIO_API_VERSIONS),
                         ("cert_delivery", CERT_DELIVERIES),
                         ("ingress_service_type", SERVICE_TYPES)):
        if merged[key] not in allowed:
            problems.add(where, "%s %r must be one of %s" % (setting_var(key), merged[key], ", ".join(allowed)))
    for port_field in ("ingress_port", "egress_port"):
        check_port(problems, where, setting_var(port_field), merged[port_field])
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
    if not is_dns_name(merged["trust_domain"]):
        problems.add(where, "%s %r must be a lowercase DNS name such as cluster.local (the mesh's meshConfig.trustDomain)"
                     % (setting_var("trust_domain"), merged["trust_domain"]))
    if merged["istio_revision"] == "":
        merged["istio_revision"] = None
    if merged["istio_revision"] is not None:
        check_dns_label(problems, where, setting_var("istio_revision"), merged["istio_revision"])
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
    check_unknown_keys(problems, where + ": " + var, raw, ("time", "interval", "probes"))
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
