# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cluster's roles in one task (the federated_cluster action plugin): the arguments of each role's module, and the
task's one result made of theirs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.args_common import (
    AUTH_ARG_SPEC, CLUSTER_ROLES, FEDERATION_ARG_SPEC)

# what every role's module takes from the task: the connection, the federation and the cluster
SHARED_OPTIONS = tuple(AUTH_ARG_SPEC) + tuple(FEDERATION_ARG_SPEC)


def role_module(role):
    return "meshfed.federation." + role


def roles_to_run(params):
    """The roles of ``params["roles"]`` in the order a converge needs them (gateways, exports, imports)."""
    return [role for role in CLUSTER_ROLES if role in params["roles"]]


def role_args(params, role):
    """The arguments of ``role``'s module: the task's shared options that are set, the role's own, and the task's
    ``preflight``."""
    args = dict((k, params[k]) for k in SHARED_OPTIONS if params.get(k) is not None)
    args.update((k, v) for k, v in (params.get(role) or {}).items() if v is not None)
    args["preflight"] = bool(params.get("preflight"))
    return args


def combined_result(results):
    """The task's result from [(role, its module's result)], in the order they ran: ``roles`` (role -> its result,
    as the role's own task would have registered it), ``changed`` if any changed, ``failed`` and ``msg`` of a failed
    one, and what Ansible reads at the top of a result only: the discovered gateway address (``ansible_facts``), the
    warnings and deprecations and the ``diff`` of every role. ``api_requests`` is their sum."""
    combined = {"changed": False, "roles": {}}
    requests = {}
    for role, result in results:
        combined["roles"][role] = result
        combined["changed"] = combined["changed"] or bool(result.get("changed"))
        if result.get("ansible_facts"):
            combined.setdefault("ansible_facts", {}).update(result["ansible_facts"])
        for key in ("warnings", "deprecations"):
            if result.get(key):
                combined.setdefault(key, []).extend(result[key])
        if result.get("diff"):
            diff = result["diff"]
            combined.setdefault("diff", []).extend(diff if isinstance(diff, list) else [diff])
        for verb, count in (result.get("api_requests") or {}).items():
            if isinstance(count, int):
                requests[verb] = requests.get(verb, 0) + count
        if result.get("failed"):
            combined.update(failed=True, msg=result.get("msg"))
    combined["api_requests"] = requests
    return combined
