# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight of a run across every cluster: before anything is written anywhere, every role of every cluster is
planned with the apply's own code (engine.plan_role) and returns what would block it as data, without failing; one
verdict over all the clusters then stops every one of them when one is blocked. A cluster that cannot be read fails
its own preflight, as it would fail its apply, and drops out of the run alone."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.engine import cluster_conflict_message, conflict_reasons
from ansible_collections.meshfed.federation.plugins.module_utils.hosts import host_conflict_report
from ansible_collections.meshfed.federation.plugins.module_utils.mesh_settings import finding_report
from ansible_collections.meshfed.federation.plugins.module_utils.objects import describe
from ansible_collections.meshfed.federation.plugins.module_utils.plan import is_blocked, is_in_the_way


def preflight_result(cluster, role, plan, force, with_host_conflicts, with_mesh_settings=False):
    """The result of one role's preflight: whether the plan is blocked, what blocks it (``conflict_reasons``, the
    wording of engine.conflict_message), whether objects are in the way (``in_the_way``; else only mesh settings
    block it), for a role with host claims its ``host_conflicts``, and for a role whose mesh settings were read
    its ``mesh_settings`` (blocking or not)."""
    blocked = is_blocked(plan, force)
    reasons = conflict_reasons(plan.conflict, () if force else plan.host_conflict, plan.mesh_settings)
    result = {"cluster": cluster, "role": role, "preflight": True, "changed": False, "blocked": blocked,
              "in_the_way": is_in_the_way(plan, force),
              "objects": len(plan.create) + len(plan.update) + len(plan.unchanged) + len(plan.conflict),
              "conflicts": [describe(c.desired) for c in plan.conflict],
              "conflict_reasons": reasons if blocked else ""}
    if with_host_conflicts:
        result["host_conflicts"] = [host_conflict_report(c) for c in plan.host_conflict]
    if with_mesh_settings:
        result["mesh_settings"] = [finding_report(f) for f in plan.mesh_settings]
    return result


def is_blocked_result(result):
    return isinstance(result, dict) and bool(result.get("preflight")) and bool(result.get("blocked"))


def preflight_failure(results):
    """One message naming every blocked cluster with what blocks it, or "" when none is. ``results``: (cluster, the
    registered results of its roles) of every cluster the preflight read, in order; anything that is no blocked
    preflight result (a skipped task, say) is passed over."""
    blocked_results = [r for dummy, roles in results for r in roles if is_blocked_result(r)]
    blocked = [(cluster, [r["conflict_reasons"] for r in roles if is_blocked_result(r)]) for cluster, roles in results]
    blocked = [(cluster, reasons) for cluster, reasons in blocked if reasons]
    if not blocked:
        return ""
    # a result from before mesh settings were read (no in_the_way) was blocked by objects
    objects = any(r.get("in_the_way", True) for r in blocked_results)
    settings = any(f.get("blocking") for r in blocked_results for f in r.get("mesh_settings") or ())
    what = ("Objects are in the way or mesh settings meshfed cannot work with are" if objects and settings else
            "Objects are in the way" if objects else "Mesh settings meshfed cannot work with are")
    return "%s in %s (%d of the %d clusters the preflight read), so this run changes no cluster. %s" % (
        what, ", ".join(cluster for cluster, dummy in blocked), len(blocked), len(results),
        " ".join(cluster_conflict_message(cluster, reasons) for cluster, reasons in blocked))
