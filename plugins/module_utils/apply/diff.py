# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What users see of a plan's writes: Ansible diff entries, Secret values redacted to a hash of their bytes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json

from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import decoded, describe, normalise
from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import writes

REDACTED = "<redacted sha256:%s>"
# Server bookkeeping, never part of what we manage nor of what a diff shows.
SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")
# Annotations that can hold a copy of a Secret's values.
SECRET_COPY_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def _redacted_value(value, encoded=True):
    """The marker for one secret value: a hash of its bytes (``encoded``: ``value`` is base64 of them)."""
    raw = decoded(value) if encoded else value
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
    after = redact(normalise(change.desired)) if change.desired else None
    before = redact(normalise(change.live))
    if before is not None and after is not None:
        before = _restrict(before, after)
    return {"before_header": describe(subject), "after_header": describe(subject),
            "before": before or {}, "after": after or {}}


def plan_diffs(plan):
    return [object_diff(change) for change in writes(plan)]
