# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federated_cluster action: the three role modules of one cluster in one task (their preflight, or their
converge), after their roles' variables are checked; each run as its own task would run it, the first failure ending
the task."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from types import SimpleNamespace

import pytest

from ansible_collections.meshfed.federation.plugins.action import federated_cluster, meshfed

ROLES = ("private_gateway", "service_export", "service_import")
FEDERATION = {"model": "{}"}
ARGS = {"federation": FEDERATION, "cluster": "c1", "context": "c1", "preflight": True,
        "private_gateway": {"credential": {"cert_path": "/p/c1.crt", "key_path": "/p/c1.key", "ca_path": "/p/ca.crt"},
                            "discover_address": None},
        "service_export": {"force": True},
        "service_import": {"peer_addresses": {"c2": {"address": "10.0.0.2", "port": 15443}}}}


@pytest.fixture(autouse=True)
def default_environment(monkeypatch):
    monkeypatch.delenv("MESHFED_IN_PROCESS", raising=False)


def role_result(role, params, **extra):
    if not params.get("preflight"):
        return dict({"changed": role != "service_export", "role": role, "changes": 2,
                     "diff": [{"before": "", "after": "%s object" % role}], "summary": "c1 %s: created 2" % role,
                     "api_requests": {"list": 3, "apply": 2}, "seen": dict(params)}, **extra)
    return dict({"changed": False, "preflight": True, "role": role, "blocked": False, "changes": 0,
                 "summary": "c1 %s preflight: clear" % role, "api_requests": {"list": 3, "get": 1},
                 "seen": dict(params)}, **extra)


@pytest.fixture
def roles(monkeypatch):
    """The three role modules replaced by fakes that record their parameters; ``failing`` names one that fails."""
    ran = []
    state = {"failing": None}

    def fake(role):
        def run(module):
            ran.append(role)
            if role == state["failing"]:
                module.fail_json(msg="cluster c1: API server at https://c1 unreachable", preflight=True)
            extra = {}
            if role == "private_gateway":
                extra["ansible_facts"] = {"meshfed_discovered_gateway_address": {"address": "10.0.0.1", "port": 15443}}
            if role == "service_import":
                module.warn("cluster c1: a mesh setting")
            module.exit_json(**role_result(role, module.params, **extra))
        return run
    for role in ROLES:
        name = "meshfed.federation." + role
        monkeypatch.setitem(meshfed.MODULES, name, meshfed.MODULES[name]._replace(run=fake(role), has_libraries=True))
    return SimpleNamespace(ran=ran, state=state)


def action(transport="local", args=None):
    task = SimpleNamespace(action="federated_cluster", resolved_action="meshfed.federation.federated_cluster",
                           args=dict(args or ARGS), async_val=0, environment=[], check_mode=False, diff=False)
    connection = SimpleNamespace(transport=transport, has_native_async=False, _shell=SimpleNamespace(tmpdir="/tmp/x"))
    # the templar renders the task variables the action checks: here they are plain values already
    templar = SimpleNamespace(template=lambda value: value)
    plugin = federated_cluster.ActionModule(task, connection, SimpleNamespace(become=False), loader=None,
                                            templar=templar)
    plugin.executed, plugin.removed = [], []

    def execute(module_name, module_args, task_vars):
        plugin.executed.append((module_name, module_args))
        return role_result(module_name.rpartition(".")[2], module_args)
    plugin._execute_module = execute
    plugin._remove_tmp_path = plugin.removed.append
    return plugin


def test_the_three_roles_are_planned_in_order_each_with_its_own_options_and_the_shared_ones(roles):
    result = action().run(task_vars={})
    assert roles.ran == list(ROLES) and not result.get("failed"), result
    assert list(result["roles"]) == list(ROLES)
    seen = dict((role, r["seen"]) for role, r in result["roles"].items())
    assert all(s["preflight"] is True and s["cluster"] == "c1" and s["context"] == "c1" and s["federation"] == FEDERATION
               for s in seen.values()), seen
    assert seen["service_export"]["force"] is True and seen["private_gateway"]["force"] is False
    assert seen["service_import"]["peer_addresses"] == ARGS["service_import"]["peer_addresses"]
    assert "peer_addresses" not in seen["service_export"] and seen["private_gateway"]["credential"]["cert_path"] == "/p/c1.crt"
    assert result["changed"] is False and result["api_requests"] == {"list": 9, "get": 3}
    # what Ansible reads at the top of a result only: the gateway's discovered address, the warnings
    assert result["ansible_facts"] == {"meshfed_discovered_gateway_address": {"address": "10.0.0.1", "port": 15443}}
    assert result["warnings"] == ["cluster c1: a mesh setting"]
    assert [r["action"] for r in result["roles"].values()] == ["meshfed.federation." + r for r in ROLES]


def test_the_first_role_that_fails_ends_the_task_with_its_message(roles):
    roles.state["failing"] = "service_export"
    result = action().run(task_vars={})
    assert roles.ran == ["private_gateway", "service_export"]
    assert result["failed"] is True and result["msg"] == "cluster c1: API server at https://c1 unreachable"
    assert list(result["roles"]) == ["private_gateway", "service_export"]
    assert result["roles"]["service_export"]["preflight"] is True


def test_an_option_a_role_module_refuses_fails_the_task_naming_it(roles):
    args = dict(ARGS, service_import=dict(ARGS["service_import"], state="maybe"))
    result = action(args=args).run(task_vars={})
    assert result["failed"] is True and "state" in result["msg"] and "maybe" in result["msg"], result
    assert roles.ran == ["private_gateway", "service_export"]


def test_its_own_options_are_checked_before_any_role_runs(roles):
    result = action(args=dict(ARGS, service_export="force")).run(task_vars={})
    assert result["failed"] is True and "service_export" in result["msg"], result
    assert roles.ran == [] and "roles" not in result


def test_on_a_remote_connection_each_role_module_is_executed_as_its_own_task_would(roles):
    plugin = action(transport="ssh")
    result = plugin.run(task_vars={})
    assert roles.ran == [] and [name for name, dummy in plugin.executed] == ["meshfed.federation." + r for r in ROLES]
    assert all(args["preflight"] is True and args["cluster"] == "c1" for dummy, args in plugin.executed)
    assert plugin.executed[1][1]["force"] is True and "force" not in plugin.executed[0][1]
    assert plugin.removed == ["/tmp/x"] and not result.get("failed")


def test_each_role_shows_its_progress_line_as_its_own_task_did(roles, monkeypatch):
    shown = []
    monkeypatch.setattr(federated_cluster.display, "display", shown.append)
    monkeypatch.setattr(federated_cluster, "shows_progress", lambda: True)
    action().run(task_vars={})
    assert shown == ["c1 %s preflight: clear" % role for role in ROLES]


def test_without_preflight_each_role_converges_and_the_task_carries_their_changes_and_diffs(roles):
    args = dict(ARGS, preflight=False)
    result = action(args=args).run(task_vars={})
    assert roles.ran == list(ROLES) and not result.get("failed"), result
    assert [r["seen"]["preflight"] for r in result["roles"].values()] == [False] * 3
    assert result["changed"] is True and result["api_requests"] == {"list": 9, "apply": 6}
    assert result["diff"] == [{"before": "", "after": "%s object" % role} for role in ROLES]


def test_preflight_is_off_unless_asked(roles):
    args = dict(ARGS)
    del args["preflight"]
    result = action(args=args).run(task_vars={})
    assert [r["seen"]["preflight"] for r in result["roles"].values()] == [False] * 3


def test_the_roles_run_in_the_order_a_converge_needs_whatever_order_they_are_named_in(roles):
    action(args=dict(ARGS, roles=["service_import", "private_gateway"])).run(task_vars={})
    assert roles.ran == ["private_gateway", "service_import"]


@pytest.mark.parametrize("variable,value", [("service_export_prune", "sometimes"), ("private_gateway_state", "gone"),
                                            ("service_import_force", "perhaps")])
def test_a_bad_role_variable_fails_the_task_naming_it_before_any_role_runs(roles, variable, value):
    result = action().run(task_vars={variable: value, "service_export_force": True})
    assert result["failed"] is True and "Validation of arguments failed" in result["msg"], result
    assert variable in result["msg"] and value in result["msg"] and len(result["argument_errors"]) == 1, result
    assert roles.ran == [] and "roles" not in result


def test_every_cluster_roles_variables_are_checked_whichever_roles_it_runs(roles):
    """federate.yml's first preflight task plans the gateways alone: a bad variable of the exports stops it there."""
    result = action(args=dict(ARGS, roles=["private_gateway"])).run(task_vars={"service_export_prune": "sometimes"})
    assert result["failed"] is True and "service_export_prune" in result["msg"] and roles.ran == [], result


def test_variables_that_are_no_cluster_roles_are_not_checked(roles):
    result = action().run(task_vars={"pki_force": "sometimes", "meshfed_anything": "else"})
    assert roles.ran == list(ROLES) and not result.get("failed"), result
