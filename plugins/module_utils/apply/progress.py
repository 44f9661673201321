# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one line a cluster role's run reports in the task output (the ``summary`` of private_gateway,
service_export and service_import; their action plugin displays it):

    cluster1 import: 14 objects, created 3 (VirtualService 2, AuthorizationPolicy 1), updated 1 (ServiceEntry 1),
    deleted 0, unchanged 10 [0.4 s]

Built from the result's lists of ``Kind namespace/name`` strings, and only from their kinds: no object name, let
alone a Secret's data, ever reaches the line."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (result key, what was done, what check mode would do)
ACTIONS = (("created", "created", "would create"), ("updated", "updated", "would update"),
           ("deleted", "deleted", "would delete"))


def kind_counts(described):
    """'Kind 2, Other 1' for a list of 'Kind namespace/name': the most frequent kind first, then by name."""
    counts = {}
    for item in described:
        kind = item.split(" ", 1)[0]
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join("%s %d" % (kind, n) for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def counted(described):
    """'3 (Kind 2, Other 1)', or '0'."""
    return "%d (%s)" % (len(described), kind_counts(described)) if described else "0"


def progress_line(result, seconds, check_mode=False):
    """The line for one role of one cluster from its module result (cluster, role, created, updated, deleted,
    unchanged and, once state=absent released the gateway namespace, namespace)."""
    parts = []
    wanted = 0
    for key, done, would in ACTIONS:
        items = result.get(key) or []
        if key != "deleted":
            wanted += len(items)
        text = "%s %d" % (would if check_mode else done, len(items))
        if items:
            text += " (%s)" % kind_counts(items)
        parts.append(text)
    unchanged = len(result.get("unchanged") or [])
    parts.append("unchanged %d" % unchanged)
    if result.get("namespace"):
        # 'deleted', 'absent', 'not ours' or 'kept: <why>'; the reason lists names, the line keeps the verdict
        verdict = result["namespace"].split(":", 1)[0]
        parts.append("namespace would be deleted" if check_mode and verdict == "deleted" else "namespace " + verdict)
    return "%s %s%s: %d objects, %s [%.1f s]" % (
        result.get("cluster"), result.get("role"), " (check mode)" if check_mode else "", wanted + unchanged,
        ", ".join(parts), seconds)


def preflight_line(result, seconds):
    """The line for the preflight of one role of one cluster (module_utils/apply/preflight.py):

        cluster2 export preflight: 8 objects, to write 2, in the way 1 (Gateway 1): blocked [0.1 s]
    """
    parts = ["to write %d" % result.get("changes", 0), "in the way " + counted(result.get("conflicts") or [])]
    if "host_conflicts" in result:
        parts.append("host conflicts " + counted([c["kind"] for c in result["host_conflicts"]]))
    return "%s %s preflight: %d objects, %s: %s [%.1f s]" % (
        result.get("cluster"), result.get("role"), result.get("objects", 0), ", ".join(parts),
        "blocked" if result.get("blocked") else "clear", seconds)
