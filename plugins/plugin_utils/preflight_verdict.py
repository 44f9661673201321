# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight's verdicts over every cluster of a run: before anything is written anywhere, a blocked role of any
cluster stops every one of them (the preflight_failure filter); a run whose preflight planned no write anywhere has
nothing to converge (the preflight_unchanged filter)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.apply.preflight import (
    is_blocked_result, is_unchanged_result)
from ansible_collections.meshfed.federation.plugins.module_utils.apply.engine import cluster_conflict_message
from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import preflight_results


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


def nothing_to_change(results):
    """Whether the preflight of every role of every cluster planned no write: ``results`` as preflight_failure's. A
    cluster or role without such a result (not planned, failed, or from a role that does not report it) is not known
    to be unchanged."""
    return bool(results) and all(roles and all(is_unchanged_result(r) for r in roles) for dummy, roles in results)


def role_results(hostvars, clusters):
    """(cluster, the results its roles registered) of each of ``clusters``, in order: what the verdicts read."""
    registered = preflight_results(hostvars, clusters)
    return [(name, registered[name]) for name in clusters]


def preflight_unchanged(hostvars, clusters):
    """The preflight_unchanged filter."""
    return nothing_to_change(role_results(hostvars, clusters))
