# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""This inventory's clusters read into the model: each cluster's gateway address, exports (with their consumers) and
imports (with their sources), every problem named by cluster, variable, item and field."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import (
    check_callers, check_dns_label, check_duration, check_labels, check_port, check_unknown_keys, is_policy_path,
    is_dns_name, is_ip_address, local_address_kind, path_is_under, refused_local_address)
from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import parse_balance
from ansible_collections.meshfed.federation.plugins.module_utils.model.limits import parse_quota, parse_state
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import peer_of
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    Cluster, DISCOVER, Export, GatewayAddress, Grant, HTTP_METHODS, Import, LocalSource, PROTOCOLS, RemoteSource,
    Retries, ServiceRef, Subset)

CONSUMER_FIELDS = ("cluster", "methods", "paths", "callers", "quota", "state")
EXPORT_FIELDS = ("name", "service", "subset", "protocol", "path_prefix", "rewrite_prefix", "consumers", "probe_path")
IMPORT_FIELDS = ("name", "namespace", "port", "protocol", "from", "local", "timeout", "retries", "mode", "order",
                 "outlier_detection")
CLUSTER_FIELDS = ("identity", "gateway_address", "exports", "imports")


def parse_gateway_address(problems, where, raw, settings):
    if raw is None or raw == DISCOVER:
        return DISCOVER
    if isinstance(raw, str):
        host, sep, port = raw.rpartition(":")
        raw = {"address": host, "port": int(port)} if sep and port.isdigit() else {"address": raw}
    if not isinstance(raw, dict):
        problems.add(where, "meshfed_gateway_address must be 'discover', 'host:port' or a mapping with address and port")
        return DISCOVER
    check_unknown_keys(problems, where + ": meshfed_gateway_address", raw, ("address", "port"))
    address = raw.get("address")
    port = raw.get("port", 15443)
    check_port(problems, where, "meshfed_gateway_address.port", port)
    if not is_ip_address(address) and not is_dns_name(address):
        problems.add(where, "meshfed_gateway_address.address %r is neither an IP address nor a DNS name" % (address,))
    elif local_address_kind(address) and not settings.allow_local_gateway_addresses:
        problems.add(where, "meshfed_gateway_address.address %s" % refused_local_address(address))
    return GatewayAddress(address, port)


def _parse_subset(problems, where, raw):
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add(where, "subset must be a mapping with name and labels")
        return None
    check_unknown_keys(problems, where + ": subset", raw, ("name", "labels"))
    check_dns_label(problems, where, "subset.name", raw.get("name"))
    return Subset(raw.get("name"), check_labels(problems, where, "subset.labels", raw.get("labels")))


def _item_where(problems, where, raw, fields):
    """Where an item of a list variable is, named when it has a name; None (a problem added) unless a mapping.
    Its unknown fields and its name are checked."""
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping")
        return None
    if isinstance(raw.get("name"), str):
        where += " (%s)" % raw["name"]
    check_unknown_keys(problems, where, raw, fields)
    check_dns_label(problems, where, "name", raw.get("name"))
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
        check_unknown_keys(problems, where + ": service", service, ("namespace", "name", "port"))
        check_dns_label(problems, where, "service.namespace", service.get("namespace"))
        check_dns_label(problems, where, "service.name", service.get("name"))
        check_port(problems, where, "service.port", service.get("port"))
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
        consumers=tuple(grant.consumer for grant in access),
        probe_path=probe_path,
        # hosts and identities come with the cross-references, once every party is known
        grants=tuple(access),
    )


def _parse_consumer(problems, where, raw, protocol):
    """The Grant of one consumers entry (its identity, host and party come with the cross-references): a cluster
    name, or a mapping with cluster, the HTTP methods, paths and callers (workloads of the consumer's mesh) it may
    use, its quota and its state."""
    if not isinstance(raw, dict):
        if not isinstance(raw, str):
            problems.add(where, "must be a cluster name or a mapping with %s" % ", ".join(CONSUMER_FIELDS))
        return Grant(raw if isinstance(raw, str) else None, None, None, None, None, None)
    methods, paths = _parse_methods_paths(problems, where, raw, protocol)
    return Grant(raw.get("cluster"), None, None, methods, paths, None,
                 callers=_parse_callers(problems, where, raw.get("callers"), protocol),
                 quota=parse_quota(problems, where, raw.get("quota"), protocol),
                 state=parse_state(problems, where, raw.get("state")))


def _parse_callers(problems, where, raw, protocol):
    """The callers of one consumers entry (None: any caller of the consumer); http only, the caller travels in an
    HTTP header."""
    if raw is not None and protocol != "http":
        problems.add(where, "callers apply to http exports only (this one is %s: the caller travels in an HTTP "
                            "header)" % protocol)
        return None
    return check_callers(problems, where, raw)


def _parse_methods_paths(problems, where, raw, protocol):
    """(methods, paths) of one consumers entry, each None when not given."""
    check_unknown_keys(problems, where, raw, CONSUMER_FIELDS)
    if not isinstance(raw.get("cluster"), str) or not raw.get("cluster"):
        problems.add(where, "cluster is required")
    methods, paths = raw.get("methods"), raw.get("paths")
    if protocol != "http" and (methods is not None or paths is not None):
        problems.add(where, "methods and paths apply to http exports only (this one is %s)" % protocol)
        return None, None
    if methods is not None:
        if not isinstance(methods, list) or not methods or any(m not in HTTP_METHODS for m in methods):
            problems.add(where, "methods %r must be a non-empty list of %s" % (methods, ", ".join(HTTP_METHODS)))
            methods = None
        else:
            methods = tuple(methods)
    if paths is not None:
        if not isinstance(paths, list) or not paths or any(not is_policy_path(p) for p in paths):
            problems.add(where, "paths %r must be a non-empty list of paths such as /reviews/0, /reviews/* (a prefix) "
                                "or *.json (a suffix)" % (paths,))
            paths = None
        else:
            paths = tuple(paths)
    return methods, paths


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
    check_dns_label(problems, where, "namespace", raw.get("namespace"))
    check_port(problems, where, "port", raw.get("port"))
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
        check_unknown_keys(problems, s_where, source, ("cluster", "export", "weight"))
        for field in ("cluster", "export"):
            if not isinstance(source.get(field), str) or not source.get(field):
                problems.add(s_where, "%s is required" % field)
        sources.append(RemoteSource(source.get("cluster"), source.get("export"), source.get("weight")))
    local = None
    raw_local = raw.get("local")
    if raw_local is not None:
        l_where = where + ": local"
        if not isinstance(raw_local, dict):
            problems.add(l_where, "must be a mapping with optional weight and subset")
        else:
            check_unknown_keys(problems, l_where, raw_local, ("subset", "weight"))
            local = LocalSource(_parse_subset(problems, l_where, raw_local.get("subset")), raw_local.get("weight"))
    timeout = raw.get("timeout")
    retries = None
    if protocol != "http" and (timeout is not None or raw.get("retries") is not None):
        problems.add(where, "timeout and retries apply to http imports only (this one is %s)" % protocol)
    if timeout is not None:
        timeout = check_duration(problems, where, "timeout", timeout)
    if raw.get("retries") is not None:
        retries = _parse_retries(problems, where, raw["retries"])
    mode, order, outlier_detection = parse_balance(problems, where, raw, protocol)
    return Import(raw.get("name"), raw.get("namespace"), raw.get("port"), protocol,
                  tuple(sources), local, timeout, retries, mode, order, outlier_detection)


def _parse_retries(problems, where, raw):
    if not isinstance(raw, dict):
        problems.add(where, "retries must be a mapping with attempts, per_try_timeout and retry_on")
        return None
    check_unknown_keys(problems, where + ": retries", raw, ("attempts", "per_try_timeout", "retry_on"))
    attempts = raw.get("attempts", 2)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        problems.add(where, "retries.attempts %r must be a non-negative integer" % (attempts,))
    per_try = raw.get("per_try_timeout")
    if per_try is not None:
        check_duration(problems, where, "retries.per_try_timeout", per_try)
    return Retries(attempts, per_try, raw.get("retry_on"))


def parse_cluster(problems, name, raw, settings):
    where = name
    if not isinstance(raw, dict):
        problems.add(where, "cluster description must be a mapping")
        raw = {}
    check_unknown_keys(problems, where, raw, CLUSTER_FIELDS)
    check_dns_label(problems, where, "cluster name", name)
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
        gateway_address=parse_gateway_address(problems, where, raw.get("gateway_address"), settings),
        exports=tuple(e for e in exports if e is not None),
        imports=tuple(i for i in imports if i is not None),
        party=settings.party if settings.ca_scope == "federation" else name,
        consumes_from=tuple(sorted({peer_of(s.cluster) for i in imports if i is not None for s in i.sources
                                    if peer_of(s.cluster)})),
    )
