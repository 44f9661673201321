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
from ansible_collections.meshfed.federation.plugins.module_utils.objects import describe
from ansible_collections.meshfed.federation.plugins.module_utils.plan import is_blocked


def preflight_result(cluster, role, plan, force, with_host_conflicts):
    """The result of one role's preflight: whether the plan is blocked, what blocks it (``conflict_reasons``, the
    wording of engine.conflict_message) and, for a role with host claims, its ``host_conflicts``."""
    blocked = is_blocked(plan, force)
    result = {"cluster": cluster, "role": role, "preflight": True, "changed": False, "blocked": blocked,
              "objects": len(plan.create) + len(plan.update) + len(plan.unchanged) + len(plan.conflict),
              "conflicts": [describe(c.desired) for c in plan.conflict],
              "conflict_reasons": conflict_reasons(plan.conflict, plan.host_conflict) if blocked else ""}
    if with_host_conflicts:
        result["host_conflicts"] = [host_conflict_report(c) for c in plan.host_conflict]
    return result


def is_blocked_result(result):
    return isinstance(result, dict) and bool(result.get("preflight")) and bool(result.get("blocked"))


def preflight_failure(results):
    """One message naming every blocked cluster with what blocks it, or "" when none is. ``results``: (cluster, the
    registered results of its roles) of every cluster the preflight read, in order; anything that is no blocked
    preflight result (a skipped task, say) is passed over."""
    blocked = [(cluster, [r["conflict_reasons"] for r in roles if is_blocked_result(r)]) for cluster, roles in results]
    blocked = [(cluster, reasons) for cluster, reasons in blocked if reasons]
    if not blocked:
        return ""
    return "Objects are in the way in %s (%d of the %d clusters the preflight read), so this run changes no cluster. %s" % (
        ", ".join(cluster for cluster, dummy in blocked), len(blocked), len(results),
        " ".join(cluster_conflict_message(cluster, reasons) for cluster, reasons in blocked))
