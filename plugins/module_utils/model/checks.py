# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Field checks: the shapes a value of a description must have (DNS labels, ports, durations, labels, addresses), each
problem added under its location."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# a lowercase DNS name: labels of at most 63 characters, 253 in all (a cluster's identity, an address)
DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DURATION = re.compile(r"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$")
# Linux's limits for TCP_KEEPIDLE / TCP_KEEPINTVL (seconds) and TCP_KEEPCNT
KEEPALIVE_MAX_SECONDS = 32767
KEEPALIVE_MAX_PROBES = 127
DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
BOOLEAN_STRINGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def is_dns_name(value):
    return isinstance(value, str) and bool(DNS_NAME.match(value))


def check_unknown_keys(problems, where, data, allowed):
    for key in sorted(set(data) - set(allowed)):
        problems.add(where, "unknown field '%s' (allowed: %s)" % (key, ", ".join(allowed)))


def check_dns_label(problems, where, field, value, max_len=63):
    if not isinstance(value, str) or not value:
        problems.add(where, "%s is required and must be a string" % field)
        return False
    if len(value) > max_len or not DNS1123_LABEL.match(value):
        problems.add(where, "%s '%s' is not a valid DNS-1123 label (lowercase alphanumerics and '-', at most %d characters)"
                     % (field, value, max_len))
        return False
    return True


def check_port(problems, where, field, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        problems.add(where, "%s %r is not a port number (1-65535)" % (field, value))
        return False
    return True


def check_duration(problems, where, field, value):
    if not isinstance(value, str) or not DURATION.match(value):
        problems.add(where, "%s %r is not a duration such as '500ms', '5s' or '1m'" % (field, value))
        return None
    return value


def check_labels(problems, where, field, labels):
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


def duration_seconds(value):
    """The seconds of a duration such as '45s', '2m' or '1500ms' (a float); None for anything else."""
    match = DURATION.match(value) if isinstance(value, str) else None
    if not match:
        return None
    return float(value[: -len(match.group(2))]) * DURATION_SECONDS[match.group(2)]


def as_bool(value):
    """True/False for a boolean or the strings Ansible reads as one (``-e name=true`` gives a string); else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in BOOLEAN_STRINGS:
        return BOOLEAN_STRINGS[value.lower()]
    return None


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


def is_policy_path(path):
    """An AuthorizationPolicy path: exact, prefix (``/a/*``), suffix (``*.json``) or any (``*``)."""
    return (isinstance(path, str) and bool(path) and not any(c.isspace() for c in path)
            and (path.startswith("/") or path.startswith("*")) and "*" not in path[1:-1]
            and not (len(path) > 1 and path.startswith("*") and path.endswith("*")))


def path_is_under(path, prefix):
    """Whether a request for ``path`` (its query string aside) is inside ``prefix`` whether the prefix is matched
    as a string or segment by segment: ``/details/0`` and ``/details`` are under ``/details``, ``/detailsx`` is not."""
    path = path.split("?", 1)[0]
    return path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")


def check_unique(problems, where, field, values):
    seen = set()
    for value in values:
        if value in seen:
            problems.add(where, "duplicate %s '%s'" % (field, value))
        seen.add(value)


def check_callers(problems, where, raw):
    """The callers of a grant as a tuple (``<namespace>/<serviceaccount>`` or ``<namespace>/*`` of the consumer's
    mesh), or None when ``raw`` is None (any caller of the consumer) or wrong (a problem added)."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(_is_caller(c) for c in raw):
        problems.add(where, "callers %r must be a non-empty list of <namespace>/<serviceaccount> or <namespace>/* of "
                            "the consumer's mesh, such as shop/web or \"shop/*\"" % (raw,))
        return None
    check_unique(problems, where, "caller in callers", raw)
    return tuple(raw)


def _is_caller(value):
    if not isinstance(value, str) or value.count("/") != 1:
        return False
    namespace, service_account = value.split("/")
    return (len(namespace) <= 63 and bool(DNS1123_LABEL.match(namespace))
            and (service_account == "*" or is_dns_name(service_account)))
