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
host we claim (hosts.py): they are only reported, never touched. ``mesh_settings`` lists what the cluster's mesh
settings mean for the role (mesh_settings.py): the blocking ones stop it like conflicts.

The plan stamps every desired object with the hash of what it applies (``SPEC_HASH``): a change's ``desired``
is the object exactly as it is to be written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
from collections import namedtuple

from ansible_collections.meshfed.federation.plugins.module_utils.kube.hosts import host_conflicts
from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import is_shared, kind_rank
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owning_federation
from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import (
    describe, has_labels, normalise, object_key)

SPEC_HASH = "meshfed.io/spec-hash"

Plan = namedtuple("Plan", "create update unchanged delete conflict host_conflict mesh_settings")
# mesh_settings: mesh_settings.Findings of the role's cluster (engine.plan_role adds them); none by default
Plan.__new__.__defaults__ = ((),)
# desired: the stamped object to write (None for a delete); live: as read from the cluster (None for a create)
Change = namedtuple("Change", "desired live")


class DuplicateObjectError(ValueError):
    """Two desired objects have the same identity: a rendering bug, refused before anything is written."""


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


def is_unchanged(stamped, live):
    """Every field we set still has our value (drift by someone else is noticed) and the hash we stamped last
    time matches (a field we stopped setting is noticed: server-side apply removes it, a subset check cannot
    see it)."""
    return is_subset(normalise(stamped), normalise(live))


def _index_desired(desired):
    indexed = {}
    for obj in desired:
        key = object_key(obj)
        if key in indexed:
            raise DuplicateObjectError("%s is rendered twice" % describe(obj))
        indexed[key] = stamp(obj)
    return indexed


def by_kind_rank(obj):
    return kind_rank(obj["kind"])


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
    host_claims     hosts.HostClaims: hosts of ours that someone else's object must not name
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
    for key, obj in sorted(wanted.items(), key=lambda item: by_kind_rank(item[1])):
        if key in owned:
            bucket = unchanged if is_unchanged(obj, owned[key]) else update
            bucket.append(Change(obj, owned[key]))
        elif key in foreign and is_shared(obj["kind"]):
            # someone else's namespace (the user's, another federation's): used as it is, never claimed
            unchanged.append(Change(obj, foreign[key]))
        elif key in foreign:
            # force adopts what is no federation's; another federation's objects stay its own
            adopt = force and owning_federation(foreign[key]) is None
            (update if adopt else conflict).append(Change(obj, foreign[key]))
        else:
            create.append(Change(obj, None))

    delete = []
    if prune:
        delete = [Change(None, live) for key, live in owned.items()
                  if key not in wanted and (prunable_kinds is None or live["kind"] in prunable_kinds)]
        delete.sort(key=lambda change: by_kind_rank(change.live), reverse=True)
    hosted = [o for o in live_hosted if object_key(o) not in wanted and not has_labels(o, owner_selector)]
    return Plan(create, update, unchanged, delete, conflict, host_conflicts(host_claims, hosted, cluster_domain))


def writes(plan):
    """The changes that need a write request, in the order to send them."""
    return sorted(plan.create + plan.update, key=lambda change: by_kind_rank(change.desired)) + plan.delete


def write_waves(plan):
    """writes(plan) cut into successive waves of one kind each: creates and updates in the creation order of
    kinds.KINDS, deletes in the reverse. Writes within a wave do not depend on each other and may be sent
    concurrently."""
    waves = []
    for change in writes(plan):
        obj = change.desired if change.desired is not None else change.live
        key = (change.desired is None, obj["kind"])
        if waves and waves[-1][0] == key:
            waves[-1][1].append(change)
        else:
            waves.append((key, [change]))
    return [changes for dummy, changes in waves]


def is_blocked(plan, force):
    """Objects in the way of our names always stop the run (force adopted them otherwise); objects for our
    hosts do unless forced; a blocking mesh setting always does (force adopts objects, it does not make a mesh
    setting work)."""
    return is_in_the_way(plan, force) or any(f.blocking for f in plan.mesh_settings)


def is_in_the_way(plan, force):
    """Objects block the plan (not only mesh settings)."""
    return bool(plan.conflict or (plan.host_conflict and not force))


def plan_summary(plan):
    return {
        "created": [describe(c.desired) for c in plan.create],
        "updated": [describe(c.desired) for c in plan.update],
        "unchanged": [describe(c.desired) for c in plan.unchanged],
        "deleted": [describe(c.live) for c in plan.delete],
        "conflicts": [describe(c.desired) for c in plan.conflict],
    }
