# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshfed action plugin as ansible-playbook routes the modules to it (meta/runtime.yml), no cluster needed:
which tasks run the module's code in the worker and which execute the module (``-vvv`` names the AnsiballZ file
of every module executed), and that module_defaults of the ``meshfed`` action group reach the modules either way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.validated_model import read_federation

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(REPO, ".lab", "collections")
FEDERATION = {"clusters": {"c1": {"identity": "c1.example.com"}}, "settings": {"federation_name": "demo"}}
# a kubeconfig whose only context is not the one module_defaults name: the client fails naming the context
KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "only-context",
    "clusters": [{"name": "nowhere", "cluster": {"server": "https://127.0.0.1:9"}}],
    "users": [{"name": "nobody", "user": {"token": "none"}}],
    "contexts": [{"name": "only-context", "context": {"cluster": "nowhere", "user": "nobody"}}],
}
CLUSTER_TASK = {"federation": "{{ federation }}", "cluster": "c1"}
TASKS = [
    {"name": "model", "meshfed.federation.federation_model": {"federation": "{{ federation }}"}, "register": "model"},
    {"name": "model by its short name", "federation_model": {"federation": "{{ federation }}"}, "register": "short"},
    {"name": "model with an environment", "meshfed.federation.federation_model": {"federation": "{{ federation }}"},
     "environment": {"MESHFED_TEST": "1"}, "register": "with_environment"},
    {"name": "model async", "meshfed.federation.federation_model": {"federation": "{{ federation }}"},
     "async": 60, "poll": 1, "register": "with_async"},
    {"name": "pki", "meshfed.federation.federation_pki": {
        "path": "{{ pki_dir }}", "federation_name": "demo", "clusters": [{"name": "c1", "identity": "c1.example.com"}]},
     "register": "pki"},
    {"name": "export", "meshfed.federation.service_export": CLUSTER_TASK, "register": "export", "ignore_errors": True},
    {"name": "import", "meshfed.federation.service_import": CLUSTER_TASK, "register": "import", "ignore_errors": True},
    {"name": "gateway", "meshfed.federation.private_gateway": dict(CLUSTER_TASK, state="absent"),
     "register": "gateway", "ignore_errors": True},
    {"name": "info", "meshfed.federation.federation_info": CLUSTER_TASK, "register": "info"},
    {"name": "results", "ansible.builtin.copy": {
        "dest": "{{ results_file }}",
        "content": "{{ dict(model=model, short=short, with_environment=with_environment, with_async=with_async, pki=pki, export=export,"
                   " import=import, gateway=gateway, info=info) | to_json }}"}},
]
MODULE_TASKS = [task["name"] for task in TASKS[:-1]]
PLAY = {
    "name": "The meshfed modules on a local connection",
    "hosts": "localhost",
    "gather_facts": False,
    "connection": "local",
    "collections": ["meshfed.federation"],
    "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}", "federation": FEDERATION},
    "module_defaults": {
        "group/meshfed.federation.meshfed": {"kubeconfig": "{{ kubeconfig }}", "context": "group-context"},
        "meshfed.federation.service_import": {"context": "import-context"},
    },
    "tasks": TASKS,
}


def run_playbook(tmp_path, env):
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(KUBECONFIG))
    (tmp_path / "play.yml").write_text(yaml.safe_dump([PLAY], sort_keys=False))
    extra = {"kubeconfig": str(tmp_path / "kubeconfig"), "pki_dir": str(tmp_path / "pki"),
             "results_file": str(tmp_path / "results.json")}
    environ = dict((k, v) for k, v in os.environ.items() if k != "MESHFED_IN_PROCESS")
    environ.update(env, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
                   ANSIBLE_NOCOLOR="1")
    # the ansible-playbook of the Python running the tests (a venv's, not the first on PATH)
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([playbook if os.path.exists(playbook) else "ansible-playbook", "-vvv", "-i", "localhost,", "-e", json.dumps(extra),
                           str(tmp_path / "play.yml")], capture_output=True, text=True, env=environ,
                          cwd=str(tmp_path), timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads((tmp_path / "results.json").read_text())


def executed_tasks(stdout):
    """The tasks of ``stdout`` that executed a meshfed module as its own process."""
    sections = re.split(r"^TASK \[(.*?)\] \*+$", stdout, flags=re.M)[1:]
    return [name for name, text in zip(sections[::2], sections[1::2])
            if re.search(r"AnsiballZ_(federation_model|federation_pki|private_gateway|service_export|service_import|"
                         r"federation_info)\.py", text)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{mode: (stdout, registered results)} of the play in process (the default) and with MESHFED_IN_PROCESS=false."""
    return dict((mode, run_playbook(tmp_path_factory.mktemp(mode), env))
                for mode, env in (("in-process", {}), ("as-processes", {"MESHFED_IN_PROCESS": "false"})))


def test_local_tasks_run_in_process_unless_they_need_a_module_process(runs):
    assert executed_tasks(runs["in-process"][0]) == ["model with an environment", "model async"]
    assert executed_tasks(runs["as-processes"][0]) == MODULE_TASKS


@pytest.mark.parametrize("mode", ["in-process", "as-processes"])
def test_the_modules_give_their_results(runs, mode):
    results = runs[mode][1]
    for name in ("model", "short", "with_environment", "with_async"):
        assert read_federation(results[name]["federation"])[0] == read_federation(FEDERATION)[0], name
        assert results[name]["clusters"]["c1"]["identity"] == "c1.example.com", name
    assert results["pki"]["changed"] and sorted(results["pki"]["clusters"]) == ["c1"]
    assert results["pki"]["clusters"]["c1"]["identity"] == "c1.example.com"
    assert os.path.isfile(results["pki"]["clusters"]["c1"]["cert_path"])


@pytest.mark.parametrize("mode", ["in-process", "as-processes"])
def test_group_module_defaults_reach_the_modules_with_kubernetes_auth(runs, mode):
    results = runs[mode][1]
    for name, context in (("export", "group-context"), ("gateway", "group-context"), ("import", "import-context")):
        assert results[name]["failed"], name
        # the kubeconfig path is a no_log value (masked); its contexts list is what the client read
        assert "Expected object with name %s in ********/contexts list" % context in results[name]["msg"], name
    assert "Expected object with name group-context in" in results["info"]["cluster"]["error"]


def test_in_process_and_module_results_are_alike(runs):
    ours, theirs = runs["in-process"][1], runs["as-processes"][1]
    assert ours["model"] == theirs["model"]
    assert ours["export"]["msg"] == theirs["export"]["msg"]
    assert ours["info"]["cluster"] == theirs["info"]["cluster"]
