# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module's code run in-process gives what the module gives when Ansible runs it as a process."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest
from ansible import constants as C

from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_MODEL_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_model import (
    run_federation_model)
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.validated_model import read_federation
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import (
    in_process_enabled, no_log_values, run_in_process, shows_progress)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(REPO, ".lab", "collections")
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "plugins", "module_utils"))

from scenarios import SEED, settings  # noqa: E402  pylint: disable=wrong-import-position


def module_as_process(tmp_path, name, args, check=False):
    """The module run the way Ansible runs it: a Python process reading ANSIBLE_MODULE_ARGS."""
    params = dict(args, _ansible_check_mode=check, _ansible_diff=False)
    if "INJECT_INVOCATION" in C.config.get_configuration_definitions():
        # with an invocation, as run_in_process gives by default (before ansible-core 2.21 a module always adds it)
        params["_ansible_inject_invocation"] = True
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.meshfed.federation.plugins.modules." + name,
                           str(args_file)], capture_output=True, text=True, env=env, timeout=120, check=False)
    return json.loads(proc.stdout)


def federation(clusters):
    return {"clusters": clusters, "settings": settings(federation_name="demo")}


@pytest.mark.parametrize("clusters", [SEED, dict(SEED, cluster1=dict(SEED["cluster1"], identity="Not A DNS Name"))],
                         ids=["valid", "invalid"])
def test_in_process_result_equals_the_module_process(tmp_path, clusters):
    args = {"federation": federation(clusters)}
    expected = module_as_process(tmp_path, "federation_model", args)
    got = run_in_process(FEDERATION_MODEL_MODULE, run_federation_model, args, check_mode=False, diff=False)
    assert json.loads(json.dumps(got)) == expected
    if clusters is not SEED:
        assert got["failed"] and "cluster1" in got["msg"] and "identity" in got["msg"]
    else:
        # what the cluster modules are given next (playbooks/federate.yml registers it): the model, validated
        assert read_federation(got["federation"])[0] == read_federation(args["federation"])[0]


def test_arguments_are_checked_like_ansible_module(tmp_path):
    args = {"federation": federation(SEED), "colour": "blue"}
    got = run_in_process(FEDERATION_MODEL_MODULE, run_federation_model, args, check_mode=False, diff=False,
                         module_name="meshfed.federation.federation_model")
    expected = module_as_process(tmp_path, "federation_model", args)
    assert got["failed"] and expected["failed"]
    assert got["msg"] == ("Unsupported parameters for (meshfed.federation.federation_model) module: colour. "
                          "Supported parameters include: federation, peer_state_dir.")
    assert expected["msg"].endswith(" module: colour. Supported parameters include: federation, peer_state_dir.")
    missing = run_in_process(FEDERATION_MODEL_MODULE, run_federation_model, {}, check_mode=False, diff=False)
    assert missing["failed"] and "federation" in missing["msg"]


def test_check_mode_diff_and_no_log_values_reach_the_module_code():
    spec = {"argument_spec": {"token": {"type": "str", "no_log": True}, "path": {"type": "path"}},
            "supports_check_mode": True}
    seen = {}

    def run_module(module):
        seen.update(check=module.check_mode, diff=module._diff, path=module.params["path"])
        module.warn("careful")
        module.exit_json(changed=True, echoed="token is " + module.params["token"])

    got = run_in_process(spec, run_module, {"token": "s3cr3t-value", "path": "~/pki"}, check_mode=True, diff=True)
    assert seen == {"check": True, "diff": True, "path": os.path.expanduser("~/pki")}
    assert got["changed"] and got["warnings"] == ["careful"]
    assert "s3cr3t-value" not in json.dumps(got)


def test_no_log_values_are_found_in_suboptions_and_lists():
    spec = {"token": {"no_log": True}, "path": {"type": "path"},
            "proxy_headers": {"type": "dict", "options": {"basic_auth": {"no_log": True}, "agent": {}}},
            "keys": {"type": "list", "no_log": True}}
    params = {"token": "t0k", "path": "/p", "proxy_headers": {"basic_auth": "u:pw", "agent": "a"},
              "keys": ["k1", 2, {"inline": {"token": "deep"}}]}
    assert no_log_values(spec, params) == {"t0k", "u:pw", "k1", "2", "deep"}
    assert no_log_values(spec, {"token": None, "proxy_headers": None}) == set()


def test_invocation_only_when_asked():
    spec = {"argument_spec": {"token": {"type": "str", "no_log": True}}}

    def run_module(module):
        module.exit_json(changed=False)

    assert "invocation" not in run_in_process(spec, run_module, {"token": "x"}, False, False, invocation=False)
    assert run_in_process(spec, run_module, {"token": "s3cr3t"}, False, False)["invocation"] == {
        "module_args": {"token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}


def test_fail_json_ends_the_module_code():
    reached = []

    def run_module(module):
        module.fail_json(msg="cluster x: unreachable", cluster="x")
        reached.append("after fail_json")

    got = run_in_process({"argument_spec": {}}, run_module, {}, check_mode=False, diff=False)
    assert got["failed"] and got["msg"] == "cluster x: unreachable" and got["cluster"] == "x"
    assert reached == []


@pytest.mark.parametrize("value,enabled", [(None, True), ("true", True), ("false", False), ("0", False), ("no", False)])
def test_in_process_can_be_turned_off(value, enabled):
    assert in_process_enabled({} if value is None else {"MESHFED_IN_PROCESS": value}) is enabled


@pytest.mark.parametrize("callback,shown", [("default", True), ("ansible.builtin.default", True), ("awx_display", True),
                                            ("ansible.posix.json", False), ("json", False), ("ansible.posix.jsonl", False)])
def test_progress_lines_stay_out_of_json_output(callback, shown):
    assert shows_progress(callback) is shown
