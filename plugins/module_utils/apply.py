# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning an apply, without I/O: desired objects against what the cluster holds.

An object is *unchanged* when the hash of what we would apply equals the hash we stamped on it the last time
(so a field we stopped setting is noticed) and every field we set still has our value (so drift by someone
else is noticed). Server-defaulted fields we never set do not matter.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
from collections import namedtuple

SPEC_HASH = "meshfed.io/spec-hash"

# Dependency order of creation; deletion runs in reverse.
KIND_ORDER = ["Namespace", "ServiceAccount", "Secret", "Role", "RoleBinding", "Service", "Deployment",
              "HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceEntry", "DestinationRule", "Gateway",
              "VirtualService"]

Plan = namedtuple("Plan", "create update unchanged delete conflict")
Change = namedtuple("Change", "desired live")


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


def spec_hash(obj):
    """Stable hash of everything we apply for one object (our own hash annotation excluded)."""
    stripped = copy.deepcopy(obj)
    stripped["metadata"].get("annotations", {}).pop(SPEC_HASH, None)
    encoded = json.dumps(stripped, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


def stamp(obj):
    """The object as we apply it: with the hash annotation that lets the next run recognise it."""
    stamped = copy.deepcopy(obj)
    stamped["metadata"].setdefault("annotations", {})[SPEC_HASH] = spec_hash(obj)
    return stamped


def is_subset(wanted, live):
    """Every field of ``wanted`` has the same value in ``live`` (lists: same length, element-wise)."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(k in live and is_subset(v, live[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(wanted) == len(live) and all(
            is_subset(w, v) for w, v in zip(wanted, live))
    return wanted == live


def has_labels(obj, labels):
    present = (obj.get("metadata") or {}).get("labels") or {}
    return all(present.get(k) == v for k, v in labels.items())


def is_unchanged(desired, live):
    stamped = stamp(desired)
    live_hash = ((live.get("metadata") or {}).get("annotations") or {}).get(SPEC_HASH)
    return live_hash == stamped["metadata"]["annotations"][SPEC_HASH] and is_subset(stamped, live)


def kind_rank(obj):
    kind = obj["kind"]
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def plan_changes(desired, live_owned, live_existing, owner_labels, prunable_kinds, force=False, prune=True):
    """Decide what to do with every object.

    desired        objects the federation wants (our labels included)
    live_owned     live objects carrying ``owner_labels`` (one LIST per kind found them)
    live_existing  live objects found under a desired object's key that lack our labels (foreign)
    prunable_kinds kinds whose owned-but-unwanted objects are deleted
    """
    owned = {object_key(o): o for o in live_owned}
    foreign = {object_key(o): o for o in live_existing if not has_labels(o, owner_labels)}
    create, update, unchanged, conflict = [], [], [], []
    wanted_keys = set()
    for obj in sorted(desired, key=kind_rank):
        key = object_key(obj)
        wanted_keys.add(key)
        if key in owned:
            (unchanged if is_unchanged(obj, owned[key]) else update).append(Change(obj, owned[key]))
        elif key in foreign:
            (update if force else conflict).append(Change(obj, foreign[key]))
        else:
            create.append(Change(obj, None))
    delete = []
    if prune:
        delete = [Change(None, o) for key, o in owned.items()
                  if key not in wanted_keys and o["kind"] in prunable_kinds]
        delete.sort(key=lambda c: kind_rank(c.live), reverse=True)
    return Plan(create, update, unchanged, delete, conflict)


def redact(obj):
    """A copy safe to show: Secret values become a short hash (a change stays visible), server noise goes."""
    if obj is None:
        return None
    shown = copy.deepcopy(obj)
    meta = shown.get("metadata") or {}
    for noisy in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"):
        meta.pop(noisy, None)
    shown.pop("status", None)
    if shown.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(shown.get(field), dict):
                shown[field] = {k: "<redacted sha256:%s>" % hashlib.sha256(str(v).encode("utf-8")).hexdigest()[:12]
                                for k, v in shown[field].items()}
    return shown


def plan_summary(plan):
    return {
        "created": [describe(c.desired) for c in plan.create],
        "updated": [describe(c.desired) for c in plan.update],
        "unchanged": [describe(c.desired) for c in plan.unchanged],
        "deleted": [describe(c.live) for c in plan.delete],
        "conflicts": [describe(c.desired) for c in plan.conflict],
    }


def plan_diffs(plan):
    """Ansible diff entries (before/after per object), redacted."""
    diffs = []
    for change in plan.create + plan.update + plan.delete:
        subject = change.desired or change.live
        before = redact(change.live)
        after = redact(stamp(change.desired)) if change.desired else None
        if before is not None and after is not None:
            # show only the fields we manage on the before side, so the diff is what we change
            before = _restrict(before, after)
        diffs.append({"before_header": describe(subject), "after_header": describe(subject),
                      "before": before or {}, "after": after or {}})
    return diffs


def _restrict(live, wanted):
    if isinstance(wanted, dict) and isinstance(live, dict):
        return {k: _restrict(live[k], wanted[k]) for k in wanted if k in live}
    return live
