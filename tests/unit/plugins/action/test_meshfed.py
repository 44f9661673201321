# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshfed action plugin: which module a task runs, and when it runs the module's code in the worker
rather than executing the module (light fakes of the task, connection and play context)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import os
from types import SimpleNamespace

import pytest
import yaml
from ansible import constants as C
from ansible.errors import AnsibleActionFail

from ansible_collections.meshfed.federation.plugins.action import meshfed
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATED_CLUSTER_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.validated_model import validated
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODEL = "meshfed.federation.federation_model"
FEDERATION = {"clusters": {"c1": {"identity": "c1.example.com"}}, "settings": {"federation_name": "demo"}}
EXECUTED = {"changed": False, "executed": True}


@pytest.fixture(autouse=True)
def default_environment(monkeypatch):
    monkeypatch.delenv("MESHFED_IN_PROCESS", raising=False)


def action(resolved_action=MODEL, transport="local", become=False, async_val=0, environment=None, summary=None):
    """The plugin for a task of ``resolved_action`` whose module execution is a fake that records its calls."""
    task = SimpleNamespace(action=resolved_action.rpartition(".")[2], resolved_action=resolved_action,
                           args={"federation": FEDERATION}, async_val=async_val, environment=environment or [],
                           check_mode=False, diff=False)
    connection = SimpleNamespace(transport=transport, has_native_async=False, _shell=SimpleNamespace(tmpdir="/tmp/x"))
    plugin = meshfed.ActionModule(task, connection, SimpleNamespace(become=become), loader=None, templar=None)
    plugin.executed, plugin.removed = [], []
    executed = dict(EXECUTED, summary=summary) if summary else EXECUTED
    plugin._execute_module = lambda **kwargs: plugin.executed.append(kwargs) or dict(executed)
    plugin._remove_tmp_path = plugin.removed.append
    return plugin


def ran_in_process(plugin, result):
    """Whether the module's code computed ``result`` in this process, the module never executed."""
    return (not plugin.executed and "executed" not in result
            and result.get("federation") == validated(build_model(FEDERATION["clusters"], FEDERATION["settings"])))


def test_a_local_task_runs_the_module_code_in_process():
    plugin = action()
    result = plugin.run(task_vars={})
    assert ran_in_process(plugin, result)


@pytest.mark.parametrize("inject", [None, True, False])
def test_the_result_has_an_invocation_as_ansible_core_would_add_it(inject):
    task_vars = {} if inject is None else {"ansible_inject_invocation": inject}
    result = action().run(task_vars=task_vars)
    # ansible-core 2.21 added INJECT_INVOCATION (off by default); a module of an older one always returns it
    wanted = inject if "INJECT_INVOCATION" in C.config.get_configuration_definitions() else True
    if wanted:
        assert result["invocation"] == {"module_args": {"federation": FEDERATION, "peer_state_dir": None}}
    else:
        assert "invocation" not in result


@pytest.mark.parametrize("transport", ["local", "ansible.builtin.local"])
def test_both_names_of_the_local_connection_run_in_process(transport):
    plugin = action(transport=transport)
    assert ran_in_process(plugin, plugin.run(task_vars={}))


@pytest.mark.parametrize("condition", [
    {"transport": "ssh"},
    {"transport": "ansible.builtin.ssh"},
    {"become": True},
    {"async_val": 30},
    {"environment": [{"HTTPS_PROXY": "http://proxy:3128"}]},
], ids=["remote", "remote-fqcn", "become", "async", "environment"])
def test_the_module_is_executed_when_the_task_needs_a_module_process(condition):
    plugin = action(**condition)
    result = plugin.run(task_vars={"x": 1})
    assert result == EXECUTED
    assert plugin.executed == [{"task_vars": {"x": 1}, "wrap_async": bool(condition.get("async_val"))}]
    # an async wrapper removes its own tmp dir when it has run
    assert plugin.removed == ([] if condition.get("async_val") else ["/tmp/x"])


def test_empty_environments_of_play_block_and_task_still_run_in_process():
    plugin = action(environment=[{}, None, {}])
    assert ran_in_process(plugin, plugin.run(task_vars={}))


def test_the_module_is_executed_when_its_libraries_are_missing(monkeypatch):
    monkeypatch.setitem(meshfed.MODULES, MODEL, meshfed.MODULES[MODEL]._replace(has_libraries=False))
    plugin = action()
    assert plugin.run(task_vars={}) == EXECUTED and len(plugin.executed) == 1


@pytest.mark.parametrize("value,in_process", [("false", False), ("0", False), ("true", True)])
def test_meshfed_in_process_in_the_environment(monkeypatch, value, in_process):
    monkeypatch.setenv("MESHFED_IN_PROCESS", value)
    plugin = action()
    result = plugin.run(task_vars={})
    assert ran_in_process(plugin, result) is in_process
    assert (result == EXECUTED) is not in_process


def test_the_entry_is_the_module_the_task_resolved_to_whatever_name_it_used():
    plugin = action()
    plugin._task.action = "federation_model"   # a short name under the collections keyword, or a module redirect
    assert ran_in_process(plugin, plugin.run(task_vars={}))
    assert meshfed.module_entry("meshfed.federation.federation_pki").spec["argument_spec"]["path"]["type"] == "path"


@pytest.mark.parametrize("resolved_action", ["community.general.ping", "federation_model", "meshfed.federation.meshfed"])
def test_a_module_the_plugin_does_not_know_fails_clearly(resolved_action):
    plugin = action(resolved_action=resolved_action)
    with pytest.raises(AnsibleActionFail) as failure:
        plugin.run(task_vars={})
    assert str(failure.value).endswith("not %s" % resolved_action)
    assert "meshfed.federation.service_import" in str(failure.value)
    assert plugin.executed == []


@pytest.mark.parametrize("on_controller", [True, False], ids=["in-process", "module-process"])
def test_the_summary_is_displayed_whichever_way_the_module_ran(monkeypatch, on_controller):
    line = "cluster1 import: 1 objects, created 1 (VirtualService 1), updated 0, deleted 0, unchanged 0 [0.1 s]"
    monkeypatch.setitem(meshfed.MODULES, MODEL, meshfed.MODULES[MODEL]._replace(
        run=lambda module: module.exit_json(changed=True, summary=line)))
    plugin = action(transport="local" if on_controller else "ssh", summary=line)
    shown = []
    monkeypatch.setattr(meshfed.display, "display", shown.append)
    monkeypatch.setattr(meshfed, "shows_progress", lambda: True)
    assert plugin.run(task_vars={})["summary"] == line
    assert shown == [line] and bool(plugin.executed) is not on_controller
    shown[:] = []
    monkeypatch.setattr(meshfed, "shows_progress", lambda: False)
    assert plugin.run(task_vars={})["summary"] == line and shown == []


def runtime():
    with open(os.path.join(REPO, "meta", "runtime.yml")) as stream:
        return yaml.safe_load(stream)


# modules whose action plugin is their own, not the one that runs a module (federated_cluster runs three of them)
OWN_ACTION = {"federated_cluster": FEDERATED_CLUSTER_MODULE}


def test_every_module_has_the_plugin_under_its_name_and_is_in_its_table():
    names = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules")) if name.endswith(".py"))
    assert sorted(meshfed.MODULES) == ["meshfed.federation." + name for name in names if name not in OWN_ACTION]
    for name in names:
        action = importlib.import_module("ansible_collections.meshfed.federation.plugins.action." + name).ActionModule
        assert (action is meshfed.ActionModule) == (name not in OWN_ACTION), name
        assert issubclass(action, meshfed.ActionModule), name  # the same choice of in-process or not
    assert "plugin_routing" not in runtime()


def test_the_action_group_holds_the_modules_with_kubernetes_auth_options():
    specs = dict((name.rpartition(".")[2], entry.spec) for name, entry in meshfed.MODULES.items())
    specs.update(OWN_ACTION)
    with_auth = sorted(name for name, spec in specs.items() if "kubeconfig" in spec["argument_spec"])
    assert with_auth == ["federated_cluster", "federation_info", "federation_lock", "private_gateway", "service_export",
                         "service_import"]
    assert sorted(runtime()["action_groups"]["meshfed"]) == with_auth
