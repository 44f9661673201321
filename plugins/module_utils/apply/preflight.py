# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight of one role of one cluster: its plan (engine.plan_role) as data, what would block it, without
failing. The verdict over every cluster is plugin_utils/preflight_verdict.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.apply.engine import conflict_reasons
from ansible_collections.meshfed.federation.plugins.module_utils.kube.hosts import host_conflict_report
from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import finding_report
from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import describe
from ansible_collections.meshfed.federation.plugins.module_utils.apply.plan import is_blocked, is_in_the_way


def preflight_result(cluster, role, plan, force, with_host_conflicts, with_mesh_settings=False):
    """The result of one role's preflight: whether the plan is blocked, what blocks it (``conflict_reasons``, the
    wording of engine.conflict_message), whether objects are in the way (``in_the_way``; else only mesh settings
    block it), for a role with host claims its ``host_conflicts``, and for a role whose mesh settings were read
    its ``mesh_settings`` (blocking or not), and the writes it plans (``changes``)."""
    blocked = is_blocked(plan, force)
    reasons = conflict_reasons(plan.conflict, () if force else plan.host_conflict, plan.mesh_settings)
    result = {"cluster": cluster, "role": role, "preflight": True, "changed": False, "blocked": blocked,
              "in_the_way": is_in_the_way(plan, force),
              "objects": len(plan.create) + len(plan.update) + len(plan.unchanged) + len(plan.conflict),
              "changes": planned_changes(plan),
              "conflicts": [describe(c.desired) for c in plan.conflict],
              "conflict_reasons": reasons if blocked else ""}
    if with_host_conflicts:
        result["host_conflicts"] = [host_conflict_report(c) for c in plan.host_conflict]
    if with_mesh_settings:
        result["mesh_settings"] = [finding_report(f) for f in plan.mesh_settings]
    return result


def planned_changes(plan):
    """How many writes the run would send: creates, updates, deletes, and the objects in the way (adopted when
    forced; a blocked run writes nothing, and says so)."""
    return len(plan.create) + len(plan.update) + len(plan.delete) + len(plan.conflict)


def is_unchanged_result(result):
    """A preflight's result that planned no write at all (a result from before ``changes`` existed is not one)."""
    return (isinstance(result, dict) and bool(result.get("preflight")) and not result.get("failed")
            and result.get("changes") == 0)


def is_blocked_result(result):
    return isinstance(result, dict) and bool(result.get("preflight")) and bool(result.get("blocked"))
