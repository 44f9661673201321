# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's playbooks against the lab the way a user does, and read their results."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import subprocess
import time

import yaml

from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import KINDS, NETWORKING, SECURITY
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import MANAGED_BY, MANAGED_BY_VALUE, selector_string
from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import api_group

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OWNED = selector_string({MANAGED_BY: MANAGED_BY_VALUE})


class PlaybookRun(object):
    def __init__(self, completed):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.result = None
        if completed.stdout.lstrip().startswith("{"):
            self.result = json.loads(completed.stdout)

    def task_results(self, module=None, preflight=False):
        """(task name, host, result) of every task that ran, optionally only for one module. federate.yml plans every
        role of every cluster before it changes any: those results (``preflight`` true) only with ``preflight=True``,
        with ``preflight=None`` they and the others. A federated_cluster task (one per cluster for several roles)
        counts as its own result, then as the result of each role module it ran, named "<task name> (<role>)"."""
        for play in (self.result or {}).get("plays", []):
            for task in play["tasks"]:
                name = task["task"]["name"]
                for host, res in task["hosts"].items():
                    roles = (res.get("roles") or {}) if res.get("action", "").endswith("federated_cluster") else {}
                    results = [(name, res)] + [("%s (%s)" % (name, role), r) for role, r in roles.items()]
                    for one_name, one in results:
                        if preflight is not None and bool(one.get("preflight")) != preflight:
                            continue
                        if module is None or one.get("action", "").endswith(module):
                            yield one_name, host, one

    def changed_tasks(self):
        return [(name, host) for name, host, res in self.task_results(preflight=None) if res.get("changed")]

    def stats(self):
        return (self.result or {}).get("stats", {})

    def failure(self):
        """The message of the first task that failed ("" if none did)."""
        for dummy, dummy, result in self.task_results(preflight=None):
            if result.get("failed"):
                return result.get("msg", "")
        return ""


def pki_dir_for(directory):
    """Where the certificates of the inventory in ``directory`` go: beside it, not in it (Ansible would try
    every file in an inventory directory as an inventory source)."""
    return os.path.normpath(directory) + "-pki"


def write_inventory(directory, kubeconfig, federation_name, mutate=None, pki_dir=None, group_mutate=None):
    """A copy of the lab inventory pointing at the lab's kubeconfig, with certificates in ``pki_dir`` (default:
    ``pki_dir_for(directory)``); ``mutate`` changes the hosts, ``group_mutate`` the group variables."""
    with open(os.path.join(REPO, "inventories", "lab", "hosts.yml")) as f:
        hosts = yaml.safe_load(f)
    with open(os.path.join(REPO, "inventories", "lab", "group_vars", "meshfed_clusters.yml")) as f:
        group_vars = yaml.safe_load(f)
    # one pod per gateway: the lab's two cores run every proxy, and the two pods of the default are the seed's to
    # show (inventories/lab, test_mesh_seed.py's drain drill); a test may set it back with group_mutate
    group_vars.update(meshfed_kubeconfig=kubeconfig, meshfed_federation_name=federation_name,
                      meshfed_pki_dir=pki_dir or pki_dir_for(directory), meshfed_autoscale_min=1)
    hosts = copy.deepcopy(hosts)
    if group_mutate:
        group_mutate(group_vars)
    if mutate:
        mutate(hosts["all"]["children"]["meshfed_clusters"]["hosts"])
    os.makedirs(os.path.join(directory, "group_vars"), exist_ok=True)
    with open(os.path.join(directory, "hosts.yml"), "w") as f:
        yaml.safe_dump(hosts, f)
    with open(os.path.join(directory, "group_vars", "meshfed_clusters.yml"), "w") as f:
        yaml.safe_dump(group_vars, f)
    return directory


def playbook_command(playbook, inventory, *extra, **kwargs):
    """(command, environment) of ansible-playbook as run_playbook runs it."""
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env.update(kwargs.get("env") or {})
    if not kwargs.get("plain"):
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    command = ["ansible-playbook", os.path.join(REPO, "playbooks", playbook), "-i", inventory] + list(extra)
    if kwargs.get("netns"):
        command = ["ip", "netns", "exec", kwargs["netns"]] + command
    return command, env


def run_playbook(playbook, inventory, *extra, **kwargs):
    """ansible-playbook with the JSON callback (or the default one with ``plain=True``); with ``netns=`` inside
    that network namespace (the lab's operator namespace reaches the load balancer addresses)."""
    command, env = playbook_command(playbook, inventory, *extra, **kwargs)
    completed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                               timeout=kwargs.get("timeout", 600), check=False)
    return PlaybookRun(completed)


def run_playbook_until(playbook, inventory, line_pattern, action, *extra, **kwargs):
    """ansible-playbook with the default callback, calling ``action()`` once when a line of its output matches
    ``line_pattern`` (a compiled regex), then waiting for it to end (``timeout``); a PlaybookRun with the whole
    output, and whether ``action`` was called."""
    command, env = playbook_command(playbook, inventory, *extra, plain=True, **kwargs)
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + kwargs.get("timeout", 600)
    lines, acted = [], False
    try:
        for line in proc.stdout:
            lines.append(line)
            if not acted and line_pattern.search(line):
                action(proc)
                acted = True
            if time.time() > deadline:
                break
        proc.wait(timeout=max(1, deadline - time.time()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return PlaybookRun(subprocess.CompletedProcess(command, proc.returncode, "".join(lines), "")), acted


def owned_objects(lab, context, federation_name, kinds="all"):
    """Names of every object carrying our labels in one cluster, as 'kind/namespace/name'."""
    selector = "%s,meshfed.io/federation=%s" % (OWNED, federation_name)
    out = lab.kubectl(context, "get", kinds, "-A", "-l", selector, "-o", "json")
    items = json.loads(out)["items"]
    return sorted("%s/%s/%s" % (i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items)


# every kind meshfed writes, as kubectl names them (<plural>.<group>), from the kind table
OUR_KINDS = ",".join(".".join(part for part in (kind.plural, kind.api if kind.api in (NETWORKING, SECURITY)
                                                else api_group(kind.api)) if part) for kind in KINDS)


def settle_namespace(lab, context, name, timeout=120):
    """Wait until ``name`` is not being deleted (a namespace's deletion finishes after the DELETE returns; objects
    cannot be created in it meanwhile). Returns its labels, or None if it does not exist."""
    done = lab.kubectl_run(context, "get", "namespace", name, "-o", "json")
    if done.returncode != 0:
        return None
    namespace = json.loads(done.stdout)
    if namespace["metadata"].get("deletionTimestamp"):
        waited = lab.kubectl_run(context, "wait", "--for=delete", "namespace/" + name, "--timeout=%ds" % timeout,
                                 timeout=timeout + 10)
        if waited.returncode != 0:
            # what holds it: the namespace controller's conditions, and what is left in it
            status = lab.kubectl_run(context, "get", "namespace", name, "-o", "jsonpath={.status.conditions}").stdout
            left = lab.kubectl_run(context, "get", "all,configmaps,secrets,leases", "-n", name, "-o", "wide").stdout
            raise AssertionError("%s: namespace %s still being deleted after %ds; conditions %s; left in it:\n%s"
                                 % (context, name, timeout, status, left))
        return None
    return namespace["metadata"].get("labels") or {}


def write_marks(lab, context, selector=None):
    """(kind, namespace, name) -> (generation, when meshfed last wrote it) of the objects of our kinds in one
    cluster, with ``selector`` (a label selector) only those; objects being deleted are left out. Status updates
    by controllers change resourceVersion but neither of these; the HPA's scaling of a Deployment (spec.replicas,
    which the HPA owns: two pods by default, from one at creation) changes a Deployment's generation, so a
    Deployment's mark is meshfed's write time alone."""
    args = ["get", OUR_KINDS, "-A", "-o", "json"] + (["-l", selector] if selector else [])
    items = json.loads(lab.kubectl(context, *args))["items"]
    return dict(((i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"]), (
        None if i["kind"] == "Deployment" else i["metadata"].get("generation"),
        sorted(f.get("time") for f in i["metadata"].get("managedFields", []) if f.get("manager") == "meshfed")))
        for i in items if not i["metadata"].get("deletionTimestamp"))
