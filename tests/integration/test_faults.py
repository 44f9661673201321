# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fault matrix on the lab: a run interrupted (SIGINT) between roles, a cluster without Istio, a gateway namespace
stuck terminating, a cluster's kube-apiserver killed in the middle of an apply. For each: the run fails with a message naming the
cluster and what happened, an object of someone else beside ours is left alone, and the next run converges, the
one after it changing nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OUR_KINDS, OWNED, owned_objects, pki_dir_for, run_playbook, run_playbook_until, settle_namespace, write_inventory,
    write_marks)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FEDERATION = "faults-" + uuid.uuid4().hex[:6]
CLUSTERS = ("cluster1", "cluster2")
GATEWAYS = "istio-private-gateways"
# someone else's object beside ours in every cluster: no fault or re-run may touch it
BYSTANDER = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bystander", "namespace": "default"},
             "data": {"owner": "someone else"}}


def bystander_version(lab, context):
    return lab.kubectl(context, "get", "configmap", "bystander", "-n", "default", "-o",
                       "jsonpath={.metadata.resourceVersion}")


def lock_holder(lab, context):
    done = lab.kubectl_run(context, "get", "lease", "meshfed-" + FEDERATION, "-n", "kube-system", "-o",
                           "jsonpath={.spec.holderIdentity}")
    return done.stdout if done.returncode == 0 else None


def unfederated(lab, inventory):
    gone = run_playbook("unfederate.yml", inventory, timeout=600)
    assert gone.rc == 0, gone.stdout[-3000:]
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAYS)


def converges(inventory):
    """federate.yml converges, and a second run changes nothing."""
    first = run_playbook("federate.yml", inventory, timeout=900)
    assert first.rc == 0, first.failure() or first.stdout[-4000:]
    again = run_playbook("federate.yml", inventory, timeout=900)
    assert again.rc == 0 and not again.changed_tasks(), again.changed_tasks()
    return first


@pytest.fixture(scope="module")
def inventory(lab, tmp_path_factory):
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAYS)
        lab.kubectl(context, "apply", "-f", "-", input=json.dumps(BYSTANDER))
    directory = write_inventory(str(tmp_path_factory.mktemp("faults")), lab.kubeconfig, FEDERATION)
    apps = run_playbook("lab_sample_apps.yml", directory)
    assert apps.rc == 0, apps.stdout[-3000:]
    versions = dict((context, bystander_version(lab, context)) for context in CLUSTERS)
    try:
        yield directory
    finally:
        run_playbook("unfederate.yml", directory, timeout=600)
        for context in CLUSTERS:
            assert bystander_version(lab, context) == versions[context], context
            lab.kubectl_run(context, "delete", "configmap", "bystander", "-n", "default")


def test_a_run_interrupted_between_roles_is_finished_by_the_next(lab, inventory):
    unfederated(lab, inventory)
    # SIGINT as Ctrl-C sends it, once the gateways and exports of every cluster are done and the imports begin: a
    # moment after the task's line, once its workers are forked (Python drops a KeyboardInterrupt raised in an at-fork
    # hook, and the run would go on) and before they send their results (a worker that a signal ends while it writes
    # to Ansible's result queue leaves ansible-playbook waiting for that queue's lock)
    interrupted = []

    def interrupt(proc):
        interrupted.append(proc.pid)
        time.sleep(0.15)
        proc.send_signal(signal.SIGINT)
    run, acted = run_playbook_until("federate.yml", inventory, re.compile(r"^TASK \[Converge the imports of \S+\]"),
                                    interrupt, timeout=600)
    assert acted, run.stdout[-3000:]
    assert run.rc != 0, run.stdout[-3000:]
    gateways = [o for o in owned_objects(lab, "cluster2", FEDERATION, OUR_KINDS) if "meshfed-export" not in o]
    assert "Deployment/%s/istio-private-ingressgateway" % GATEWAYS in gateways, gateways
    # Ctrl-C ends a run without its always sections: its lock stays, and the next run on this machine takes it over
    holders = [lock_holder(lab, context) for context in CLUSTERS]
    assert all(" pid %d start " % interrupted[0] in h for h in holders), holders
    first = converges(inventory)
    assert "ended without releasing it" in first.stdout, first.stdout[-3000:]
    assert [lock_holder(lab, context) for context in CLUSTERS] == [None, None]
    # the re-run finishes the imports; the gateways and exports it finds as the interrupted run left them
    changed = set(first.changed_tasks())
    assert not [task for task in changed if task[0].endswith(("(private_gateway)", "(service_export)"))], changed
    assert [task for task in changed if task[0].endswith("(service_import)")], changed


def test_a_cluster_without_istio_is_named_nothing_is_written_there_and_the_others_go_on(lab, inventory, tmp_path):
    converges(inventory)
    before = write_marks(lab, "cluster1")
    # cluster2's inventory entry pointed at a real Kubernetes cluster that has no Istio CRDs
    lab.run_lab(["fault", "bare-up", "bare"], timeout=300)
    bare = os.path.join(lab.dir, "bare.kubeconfig")

    def to_bare(hosts):
        hosts["cluster2"].update(meshfed_kubeconfig=bare, meshfed_context="bare")
    try:
        no_istio = write_inventory(str(tmp_path / "no-istio"), lab.kubeconfig, FEDERATION, mutate=to_bare,
                                   pki_dir=pki_dir_for(inventory))
        run = run_playbook("federate.yml", no_istio, timeout=600)
        assert run.rc != 0
        assert re.search(r"Istio is not installed in cluster cluster2 \(networking\.istio\.io/v1 \w+ not served\)",
                         run.stdout), run.stdout[-3000:]
        assert "Traceback" not in run.stdout
        # nothing of ours in the cluster without Istio (its lock released), nothing changed in cluster1
        ours = subprocess.run([lab.kubectl_binary, "--kubeconfig", bare, "--context", "bare", "get",
                               "namespaces,leases", "-A", "-l", OWNED, "-o", "name"],
                              capture_output=True, text=True, timeout=60, check=True)
        assert ours.stdout.strip() == "", ours.stdout
        assert write_marks(lab, "cluster1") == before
    finally:
        lab.run_lab(["fault", "bare-down", "bare"], timeout=300)
    # cluster2 back in the inventory: nothing to do, it was never touched
    again = run_playbook("federate.yml", inventory, timeout=900)
    assert again.rc == 0 and not again.changed_tasks(), again.failure() or again.changed_tasks()


def test_a_gateway_namespace_stuck_terminating_is_named_and_the_run_converges_once_it_is_gone(lab, inventory):
    converges(inventory)
    # someone's object with a finalizer nobody removes holds the namespace in Terminating once it is deleted
    holder = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "holder", "namespace": GATEWAYS, "finalizers": ["example.com/hold"]}}
    lab.kubectl("cluster2", "apply", "-f", "-", input=json.dumps(holder))
    lab.kubectl("cluster2", "delete", "namespace", GATEWAYS, "--wait=false")
    try:
        stuck = run_playbook("federate.yml", inventory, timeout=900)
        assert stuck.rc != 0
        message = stuck.failure()
        assert message.startswith("cluster cluster2: namespace %s is being deleted (Terminating)" % GATEWAYS), message
        assert "Traceback" not in stuck.stdout
    finally:
        lab.kubectl("cluster2", "patch", "configmap", "holder", "-n", GATEWAYS, "--type=merge",
                    "-p", '{"metadata": {"finalizers": null}}')
    settle_namespace(lab, "cluster2", GATEWAYS)
    converges(inventory)


def test_an_api_server_killed_in_the_middle_of_an_apply_is_named_and_the_next_run_converges(lab, inventory):
    unfederated(lab, inventory)
    killed = []

    def kill(dummy_proc):
        # once the role has written some of cluster2's objects (it then waits for its Deployment)
        deadline = time.time() + 120
        while not lab.kubectl_run("cluster2", "get", "deployment", "-n", GATEWAYS, "istio-private-ingressgateway").returncode == 0:
            assert time.time() < deadline, "the gateway role wrote nothing in cluster2 within 120 s"
            time.sleep(0.2)
        lab.run_lab(["fault", "apiserver-kill", "cluster2"])
        killed.append(time.time())
    try:
        # killed while the gateways are being converged: cluster2's apply stops wherever it is
        run, acted = run_playbook_until("federate.yml", inventory,
                                        re.compile(r"^TASK \[Converge the private gateways and the exports of "), kill,
                                        timeout=900)
        assert acted and killed, run.stdout[-3000:]
        assert run.rc != 0, run.stdout[-3000:]
        assert re.search(r"cluster cluster2: .*(unreachable|Connection refused|Connection reset|failed)", run.stdout), \
            run.stdout[-4000:]
        assert "Traceback" not in run.stdout
    finally:
        lab.run_lab(["fault", "apiserver-start", "cluster2"], timeout=300)
    # the run could not release cluster2's lock (its API server was down): the next run takes it over
    assert lock_holder(lab, "cluster2") and lock_holder(lab, "cluster1") is None
    first = converges(inventory)
    assert "ended without releasing it" in first.stdout
