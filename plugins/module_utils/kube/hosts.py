# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Someone else's VirtualService or DestinationRule for a host an import stands for, found without I/O: Istio
would merge it with ours, or use one of the two. The plan reports these; nothing touches them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import describe, object_key

# namespace  where clients see the host (a foreign object matters there)
# kind       the foreign kind that interferes
# host       our FQDN
# wildcards  a foreign wildcard host covering ours interferes too (it does not when ours is more specific)
# imports    'namespace/name' of the imports concerned; what: what the host is to them; reason: why it matters
HostClaim = namedtuple("HostClaim", "namespace kind host wildcards imports what reason")
# live: the foreign object; host: the host of it that matches, as written
HostConflict = namedtuple("HostConflict", "claim live host")


def resolve_host(host, namespace, cluster_domain):
    """A host of a VirtualService or DestinationRule as Istio reads it: a name without a dot is a Service of the
    object's namespace (``reviews`` in ``default``: reviews.default.svc.<domain>), anything else is as written."""
    if not isinstance(host, str) or not host or host == "*" or "." in host or ":" in host:
        return host
    return "%s.%s.svc.%s" % (host, namespace, cluster_domain)


def host_covers(pattern, host, wildcards=True):
    """``pattern`` (a resolved host) names ``host``: equal, or, with ``wildcards``, ``*`` or ``*.suffix``
    ending ``host`` (Istio's wildcard hosts match by suffix)."""
    if not isinstance(pattern, str):
        return False
    pattern = pattern.lower()
    if pattern == host:
        return True
    return wildcards and pattern.startswith("*") and host.endswith(pattern[1:])


def visible_in(obj, namespace):
    """The object applies to clients in ``namespace``: its exportTo is absent (Istio's default: every
    namespace), holds ``*`` or names the namespace, or, for an object living there, holds ``.`` (an object of N
    exported only elsewhere is not seen in N: pilot/pkg/model/push_context.go)."""
    meta = obj.get("metadata") or {}
    export_to = (obj.get("spec") or {}).get("exportTo") or ["*"]
    if meta.get("namespace") == namespace and "." in export_to:
        return True
    return "*" in export_to or namespace in export_to


def routes_sidecars(obj):
    """A VirtualService applies to sidecars unless it is bound to gateways only (``mesh`` not among them)."""
    gateways = (obj.get("spec") or {}).get("gateways")
    return not gateways or "mesh" in gateways


def object_hosts(obj):
    spec = obj.get("spec") or {}
    if obj["kind"] == "DestinationRule":
        return [spec.get("host")]
    return list(spec.get("hosts") or [])


def _interferes(claim, obj, cluster_domain):
    """The host of ``obj`` that interferes with ``claim``, or None. A DestinationRule counts only in the
    claim's namespace (Istio looks up a rule in the client's namespace, then the Service's, then the root
    namespace, where ours comes first); a VirtualService also from another namespace it is exported to."""
    if obj["kind"] != claim.kind:
        return None
    namespace = (obj.get("metadata") or {}).get("namespace")
    if claim.kind == "DestinationRule" and namespace != claim.namespace:
        return None
    if claim.kind == "VirtualService" and not (visible_in(obj, claim.namespace) and routes_sidecars(obj)):
        return None
    for host in object_hosts(obj):
        if host_covers(resolve_host(host, namespace, cluster_domain), claim.host, claim.wildcards):
            return host
    return None


def host_conflicts(claims, live, cluster_domain):
    """HostConflicts of foreign live objects (ours already left out) with the claims, in a stable order."""
    found = []
    for claim in claims:
        for obj in live:
            host = _interferes(claim, obj, cluster_domain)
            if host is not None:
                found.append(HostConflict(claim, obj, host))
    return sorted(found, key=lambda c: (object_key(c.live), c.claim.host))


def host_conflict_report(conflict):
    """What users read about one host conflict: where, which object of theirs, which host, which import."""
    meta = conflict.live["metadata"]
    return {"namespace": meta.get("namespace"), "kind": conflict.live["kind"], "name": meta["name"],
            "host": conflict.host, "import_host": conflict.claim.host, "imports": list(conflict.claim.imports),
            "reason": conflict.claim.reason}


def describe_host_conflict(conflict):
    claim = conflict.claim
    host = conflict.host if conflict.host == claim.host else "%s (for %s)" % (conflict.host, claim.host)
    return "%s: host %s is %s of import%s %s: %s" % (
        describe(conflict.live), host, claim.what, "s" if len(claim.imports) > 1 else "", ", ".join(claim.imports),
        claim.reason)


def host_conflict_message(host_conflicts):
    return ("Objects not managed by meshfed use hosts of its imports: %s. Delete them, narrow their hosts or exportTo, "
            "or import under another local name; force=true applies anyway and leaves them as they are."
            % "; ".join(describe_host_conflict(c) for c in host_conflicts))


def claim_places(claims, api_version_of):
    """(apiVersion, kind, namespace) to LIST for host claims: every claimed kind in every claimed namespace
    (an object of one importing namespace may be exported to another); ``api_version_of(kind)``."""
    namespaces = sorted(set(c.namespace for c in claims))
    kinds = sorted(set(c.kind for c in claims))
    return [(api_version_of(kind), kind, namespace) for kind in kinds for namespace in namespaces]
