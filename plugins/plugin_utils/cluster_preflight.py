# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight of a cluster's three roles in one task (the cluster_preflight action plugin): the arguments of each
role's module, and the task's one result made of theirs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.args_common import (
    AUTH_ARG_SPEC, CLUSTER_ROLES, FEDERATION_ARG_SPEC)

ROLES = CLUSTER_ROLES
# what every role's module takes from the task: the connection, the federation and the cluster
SHARED_OPTIONS = tuple(AUTH_ARG_SPEC) + tuple(FEDERATION_ARG_SPEC)


def role_module(role):
    return "meshfed.federation." + role


def role_args(params, role):
    """The arguments of ``role``'s module: the task's shared options that are set, the role's own, preflight=true."""
    args = dict((k, params[k]) for k in SHARED_OPTIONS if params.get(k) is not None)
    args.update((k, v) for k, v in (params.get(role) or {}).items() if v is not None)
    args["preflight"] = True
    return args


def combined_result(results):
    """The task's result from [(role, its module's result)], in the order they ran: ``roles`` (role -> its result,
    as the role's own task would have registered it), ``failed`` and ``msg`` of a failed one, and what Ansible reads at
    the top of a result only: the discovered gateway address (``ansible_facts``), the warnings and deprecations of
    every role. ``api_requests`` is their sum."""
    combined = {"changed": False, "roles": {}}
    requests = {}
    for role, result in results:
        combined["roles"][role] = result
        if result.get("ansible_facts"):
            combined.setdefault("ansible_facts", {}).update(result["ansible_facts"])
        for key in ("warnings", "deprecations"):
            if result.get(key):
                combined.setdefault(key, []).extend(result[key])
        for verb, count in (result.get("api_requests") or {}).items():
            if isinstance(count, int):
                requests[verb] = requests.get(verb, 0) + count
        if result.get("failed"):
            combined.update(failed=True, msg=result.get("msg"))
    combined["api_requests"] = requests
    return combined
