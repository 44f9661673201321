# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning an apply, without I/O: the desired objects of one cluster and role against what the cluster holds.

Every object falls in exactly one bucket:

* ``create``    desired, not in the cluster
* ``update``    desired, ours, and some field we set differs (or a field we used to set was dropped), or
                desired, foreign and adopted because ``force`` is set
* ``unchanged`` desired, ours, every field we set has our value; server-defaulted fields do not matter
* ``delete``    ours (carries the owner labels), no longer desired
* ``conflict``  desired, but an object without our owner labels holds its name: never touched unless forced

Besides, ``host_conflict`` lists objects without our owner labels that do not hold one of our names but a
host we claim (a VirtualService or DestinationRule for an import's local name, say): Istio would merge them
with ours, or use one of the two. They are only reported, never touched.

An object's identity is (API group, kind, namespace, name): the API version does not matter, the same
object is served under every version of its group.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import copy
import hashlib
import json
from collections import namedtuple

SPEC_HASH = "meshfed.io/spec-hash"
REDACTED = "<redacted sha256:%s>"

# Creation order: what others refer to first. Deletion runs in reverse. Kinds not listed go last.
# An AuthorizationPolicy comes before the Gateway server it guards (and goes after it).
KIND_ORDER = ["Namespace", "ServiceAccount", "Secret", "ConfigMap", "Role", "RoleBinding", "Service", "Deployment",
              "HorizontalPodAutoscaler", "PodDisruptionBudget",
              "ServiceEntry", "DestinationRule", "AuthorizationPolicy", "Gateway", "VirtualService"]

# Server bookkeeping, never part of what we manage nor of what a diff shows.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
# Annotations that can hold a copy of a Secret's values.
SECRET_COPY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

Plan = namedtuple("Plan", "create update unchanged delete conflict host_conflict")
# live: the object as read from the cluster (None for a create); adopt: a foreign object taken over (force)
Change = namedtuple("Change", "desired live adopt")


class DuplicateObjectError(ValueError):
    """Two desired objects have the same identity: a rendering bug, refused before anything is written."""


def api_group(api_version):
    return api_version.split("/")[0] if "/" in api_version else ""


def object_key(obj):
    meta = obj["metadata"]
    return (api_group(obj["apiVersion"]), obj["kind"], meta.get("namespace") or "", meta["name"])


def describe(obj):
    """'Kind namespace/name' (or 'Kind name' for cluster-scoped objects), as users read it in results."""
    meta = obj["metadata"]
    if meta.get("namespace"):
        return "%s %s/%s" % (obj["kind"], meta["namespace"], meta["name"])
    return "%s %s" % (obj["kind"], meta["name"])


def kind_rank(obj):
    kind = obj["kind"]
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def has_labels(obj, labels):
    present = (obj.get("metadata") or {}).get("labels") or {}
    return all(present.get(k) == v for k, v in labels.items())


# --- Secret values: compared and hashed as bytes, whatever their encoding ---

def _decoded(value):
    """The bytes a Secret ``data`` value stands for; a value that is not base64 stays as it is."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return value


def _canonical_base64(value):
    decoded = _decoded(value)
    return base64.b64encode(decoded).decode("ascii") if isinstance(decoded, bytes) else value


def normalise(obj):
    """The object as the API server stores it, for comparing: a Secret's ``stringData`` folded into ``data``,
    every ``data`` value in canonical base64 (so equal bytes compare equal however they were encoded)."""
    if obj is None or obj.get("kind") != "Secret" or not (obj.get("data") or obj.get("stringData")):
        return obj
    secret = copy.deepcopy(obj)
    data = {k: _canonical_base64(v) for k, v in (secret.get("data") or {}).items()}
    for key, text in (secret.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    secret["data"] = data
    return secret


# --- comparing ---

def _is_empty(value):
    return value is None or value == {} or value == []


def is_subset(wanted, live):
    """Every field of ``wanted`` has the same value in ``live``: dicts by key (extra live keys ignored), lists
    element-wise with the same length, scalars equal. An empty or null wanted value matches an absent one,
    since the API server drops those."""
    if isinstance(wanted, dict):
        if not isinstance(live, dict):
            return not wanted and live is None
        return all(is_subset(v, live[k]) if k in live else _is_empty(v) for k, v in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(live, list):
            return not wanted and live is None
        return len(wanted) == len(live) and all(is_subset(w, v) for w, v in zip(wanted, live))
    return wanted == live


def _with_annotations(obj, annotations):
    """A copy of ``obj`` with other annotations; only the top level and the metadata are copied (the rest is
    shared: nothing here changes an object in place, and deep copies of every object cost a no-op run dearly)."""
    metadata = dict(obj["metadata"])
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    copied = dict(obj)
    copied["metadata"] = metadata
    return copied


def spec_hash(obj):
    """Stable hash of everything we apply for one object (our own hash annotation excluded)."""
    normal = normalise(obj)
    annotations = dict(normal["metadata"].get("annotations") or {})
    annotations.pop(SPEC_HASH, None)
    encoded = json.dumps(_with_annotations(normal, annotations), sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


def stamp(obj):
    """The object as we apply it, with the hash annotation that lets the next run recognise it."""
    annotations = dict(obj["metadata"].get("annotations") or {})
    annotations[SPEC_HASH] = spec_hash(obj)
    return _with_annotations(obj, annotations)


def is_unchanged(desired, live):
    """Every field we set still has our value (drift by someone else is noticed) and the hash we stamped last
    time matches (a field we stopped setting is noticed: server-side apply removes it, a subset check cannot
    see it)."""
    stamped = stamp(desired)
    return is_subset(normalise(stamped), normalise(live))


# --- the plan ---

def _index_desired(desired):
    indexed = {}
    for obj in desired:
        key = object_key(obj)
        if key in indexed:
            raise DuplicateObjectError("%s is rendered twice" % describe(obj))
        indexed[key] = obj
    return indexed


# Kinds we create when missing but happily share when they exist: a namespace pre-created by the user or
# used by another federation is not "in the way".
SHARED_KINDS = ("Namespace",)


def plan_changes(desired, live_owned, live_names, owner_selector, force=False, prune=True, prunable_kinds=None,
                 host_claims=(), live_hosted=(), cluster_domain="cluster.local"):
    """Decide what to do with every object.

    desired         objects wanted in the cluster, owner labels included
    live_owned      live objects carrying ``owner_selector`` (what one labelled LIST per kind returned)
    live_names      live objects found under the identity of a desired object not in ``live_owned``; may
                    carry only metadata (they are only checked for ownership)
    owner_selector  labels that make an object ours
    force           adopt foreign objects in the way (updated with our labels) instead of reporting conflicts
    prune           delete owned objects no longer desired
    prunable_kinds  if given, only owned objects of these kinds are deleted (never Namespaces, say)
    host_claims     HostClaims: hosts of ours that someone else's object must not name
    live_hosted     live objects of the claims' kinds and namespaces, whoever owns them
    cluster_domain  the domain that completes short host names (``reviews`` in ``default``)
    """
    wanted = _index_desired(desired)
    owned = dict((object_key(o), o) for o in live_owned)
    for obj in live_names:
        # one that got our labels between the LIST and the lookup is ours all the same
        if has_labels(obj, owner_selector):
            owned.setdefault(object_key(obj), obj)
    foreign = dict((object_key(o), o) for o in live_names if not has_labels(o, owner_selector))

    create, update, unchanged, conflict = [], [], [], []
    for key, obj in sorted(wanted.items(), key=lambda item: kind_rank(item[1])):
        if key in owned:
            bucket = unchanged if is_unchanged(obj, owned[key]) else update
            bucket.append(Change(obj, owned[key], False))
        elif key in foreign and obj["kind"] in SHARED_KINDS:
            # someone else's namespace (the user's, another federation's): used as it is, never claimed
            unchanged.append(Change(obj, foreign[key], False))
        elif key in foreign:
            (update if force else conflict).append(Change(obj, foreign[key], force))
        else:
            create.append(Change(obj, None, False))

    delete = []
    if prune:
        delete = [Change(None, live, False) for key, live in owned.items()
                  if key not in wanted and (prunable_kinds is None or live["kind"] in prunable_kinds)]
        delete.sort(key=lambda change: kind_rank(change.live), reverse=True)
    hosted = [o for o in live_hosted if object_key(o) not in wanted and not has_labels(o, owner_selector)]
    return Plan(create, update, unchanged, delete, conflict, host_conflicts(host_claims, hosted, cluster_domain))


# --- hosts: someone else's VirtualService or DestinationRule for a host we stand for ---

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


def writes(plan):
    """The changes that need a write request, in the order to send them."""
    return sorted(plan.create + plan.update, key=lambda change: kind_rank(change.desired)) + plan.delete


def write_waves(plan):
    """writes(plan) cut into successive waves of one kind each: creates and updates in KIND_ORDER (a
    Namespace before what lives in it, a ServiceAccount before the Deployment using it), deletes in the
    reverse. Writes within a wave do not depend on each other and may be sent concurrently."""
    waves = []
    for change in writes(plan):
        obj = change.desired if change.desired is not None else change.live
        key = (change.desired is None, obj["kind"])
        if waves and waves[-1][0] == key:
            waves[-1][1].append(change)
        else:
            waves.append((key, [change]))
    return [changes for dummy, changes in waves]


def plan_summary(plan):
    return {
        "created": [describe(c.desired) for c in plan.create],
        "updated": [describe(c.desired) for c in plan.update],
        "unchanged": [describe(c.desired) for c in plan.unchanged],
        "deleted": [describe(c.live) for c in plan.delete],
        "conflicts": [describe(c.desired) for c in plan.conflict],
    }


# --- what users see ---

def _redacted_value(value, encoded=True):
    """The marker for one secret value: a hash of its bytes (``encoded``: ``value`` is base64 of them)."""
    raw = _decoded(value) if encoded else value
    if not isinstance(raw, bytes):
        raw = raw.encode("utf-8") if isinstance(raw, str) else json.dumps(raw).encode("utf-8")
    return REDACTED % hashlib.sha256(raw).hexdigest()[:12]


def redact(obj):
    """A copy safe to show: Secret values become a short hash of their bytes (so a change stays visible,
    and ``data``/``stringData`` of equal bytes look alike), server bookkeeping goes."""
    if obj is None:
        return None
    shown = copy.deepcopy(obj)
    meta = shown.get("metadata") or {}
    for noisy in SERVER_METADATA:
        meta.pop(noisy, None)
    shown.pop("status", None)
    if shown.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(shown.get(field), dict):
                shown[field] = dict((k, _redacted_value(v, encoded=field == "data"))
                                    for k, v in shown[field].items())
        annotations = meta.get("annotations") or {}
        for name in SECRET_COPY_ANNOTATIONS:
            if name in annotations:
                annotations[name] = _redacted_value(annotations[name], encoded=False)
    return shown


def _restrict(live, wanted):
    """The part of ``live`` that ``wanted`` sets, so a diff shows only what we change."""
    if isinstance(wanted, dict) and isinstance(live, dict):
        return dict((k, _restrict(live[k], wanted[k])) for k in wanted if k in live)
    return live


def object_diff(change):
    """One Ansible diff entry (before/after, redacted) for a create, update or delete."""
    subject = change.desired or change.live
    after = redact(normalise(stamp(change.desired))) if change.desired else None
    before = redact(normalise(change.live))
    if before is not None and after is not None:
        before = _restrict(before, after)
    return {"before_header": describe(subject), "after_header": describe(subject),
            "before": before or {}, "after": after or {}}


def plan_diffs(plan):
    return [object_diff(change) for change in writes(plan)]
