# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two runs of one federation at the same time, on the lab: the federation's lock (a Lease per cluster) lets one
through; the other is refused before it reads or writes anything, naming the holder, or with
meshfed_lock_timeout waits and goes once the first is done. Neither prunes what the other created. A lock left
by a run on another machine is refused until it expires or is broken; a check run only warns."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import signal
import threading
import time
import uuid
from datetime import datetime, timedelta

import pytest

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OUR_KINDS, run_playbook, run_playbook_until, settle_namespace, write_inventory, write_marks)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FEDERATION = "locked-" + uuid.uuid4().hex[:6]
LEASE = "meshfed-" + FEDERATION
CLUSTERS = ("cluster1", "cluster2")
GATEWAYS = "istio-private-gateways"
# once a run holds the lock: the preflight's first task that reads a cluster (a run with nothing to write ends with
# the preflight), the gateways' own when an address is discovered, else every role's
CONVERGING = re.compile(r"^TASK \[(Plan the private gateways first, for the addresses their discovery finds, in|"
                        r"Plan every role \(preflight\) of) cluster\d\]")
# a run about to ask for the lock
LOCKING = re.compile(r"^TASK \[Take the federation's lock in cluster\d\]")
ROLE_MODULES = ("private_gateway", "service_export", "service_import")


def without_details(hosts):
    """The same federation, as another operator's inventory has it: details neither exported nor imported."""
    hosts["cluster1"]["meshfed_imports"] = [i for i in hosts["cluster1"]["meshfed_imports"] if i["name"] != "details"]
    hosts["cluster2"]["meshfed_exports"] = [e for e in hosts["cluster2"]["meshfed_exports"] if e["name"] != "details"]


def lease(lab, context):
    done = lab.kubectl_run(context, "get", "lease", LEASE, "-n", "kube-system", "-o", "json")
    return json.loads(done.stdout) if done.returncode == 0 else None


def details_objects(lab):
    """The objects of the details export (cluster2) and import (cluster1), as kind/namespace/name."""
    found = []
    for context, selector in (("cluster2", "meshfed.io/export=details"), ("cluster1", "meshfed.io/import=details")):
        items = json.loads(lab.kubectl(context, "get", OUR_KINDS, "-A", "-l", selector, "-o", "json"))["items"]
        found += ["%s/%s/%s" % (i["kind"], i["metadata"].get("namespace"), i["metadata"]["name"]) for i in items]
    return found


def marks(lab):
    return dict((context, write_marks(lab, context, "meshfed.io/federation=" + FEDERATION)) for context in CLUSTERS)


def foreign_lease(holder, renewed, duration):
    moment = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": LEASE, "namespace": "kube-system"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": moment,
                     "renewTime": moment}}


def go_on(pid):
    """SIGCONT a run stopped with SIGSTOP, if it is still there."""
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def role_results(run):
    return [r for module in ROLE_MODULES for r in run.task_results(module, preflight=None)]


@pytest.fixture(scope="module")
def inventories(lab, tmp_path_factory):
    for context in CLUSTERS:
        settle_namespace(lab, context, GATEWAYS)
    full = write_inventory(str(tmp_path_factory.mktemp("full")), lab.kubeconfig, FEDERATION)
    # another operator's checkout of the same federation: same name, same certificates
    partial = write_inventory(str(tmp_path_factory.mktemp("partial")), lab.kubeconfig, FEDERATION,
                              mutate=without_details, pki_dir=full + "-pki")
    apps = run_playbook("lab_sample_apps.yml", full)
    assert apps.rc == 0, apps.stdout[-3000:]
    try:
        yield full, partial
    finally:
        run_playbook("unfederate.yml", full, "-e", "meshfed_lock_break=true", timeout=900)
        for context in CLUSTERS:
            lab.kubectl_run(context, "delete", "lease", LEASE, "-n", "kube-system")


def test_a_second_run_while_one_holds_the_lock_is_refused_before_it_reads_anything(lab, inventories):
    full, partial = inventories
    second = []

    def run_the_other(proc):
        # the first run stopped (SIGSTOP) while it holds the lock: however fast it would be, it is not done before
        # the second asks for the lock
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            held = [lease(lab, context) for context in CLUSTERS]
            second.append((held, run_playbook("federate.yml", partial, timeout=300), proc.pid))
        finally:
            go_on(proc.pid)
    first, acted = run_playbook_until("federate.yml", full, CONVERGING, run_the_other, timeout=900)
    assert acted and first.rc == 0, first.stdout[-4000:]
    held, refused, pid = second[0]
    assert all(h and (" pid %d start " % pid) in h["spec"]["holderIdentity"] for h in held), held
    assert refused.rc != 0
    message = refused.failure()
    assert re.match(r"cluster cluster[12]: federation %s is being changed by another run: Lease kube-system/%s is held "
                    r"by \S+@\S+ pid %d \(since " % (FEDERATION, LEASE, pid), message), message
    # refused before any role planned or wrote anything, on every cluster
    assert not role_results(refused), role_results(refused)
    assert set(refused.stats()) == set(CLUSTERS) and all(s["failures"] for s in refused.stats().values())
    # the first run's objects are all there (the second, whose inventory has no details, pruned nothing), and a
    # run of it again finds nothing to change; its lock is gone
    assert len(details_objects(lab)) >= 4, details_objects(lab)
    again = run_playbook("federate.yml", full, timeout=900)
    assert again.rc == 0 and not again.changed_tasks(), again.changed_tasks()
    assert [lease(lab, context) for context in CLUSTERS] == [None, None]


def test_a_run_told_to_wait_goes_once_the_first_is_done_and_applies_its_own_inventory(lab, inventories):
    full, partial = inventories
    second = []

    def run_the_other(first_proc):
        # the first run stopped while it holds the lock; the second, in a thread (the first's output goes on being
        # read), asks for the lock, and the first goes on 4 s later: the second has been refused twice by then
        os.kill(first_proc.pid, signal.SIGSTOP)

        def resume(dummy_proc):
            time.sleep(4)
            second.append(("resumed", time.time()))
            go_on(first_proc.pid)

        def waiting_run():
            try:
                run, acted = run_playbook_until("federate.yml", partial, LOCKING, resume, "-e",
                                                "meshfed_lock_timeout=600", timeout=900)
                second.append(("done", run, acted, time.time()))
            finally:
                go_on(first_proc.pid)
        waiting = threading.Thread(target=waiting_run)
        waiting.start()
        second.append(("thread", waiting))
    first, acted = run_playbook_until("federate.yml", full, CONVERGING, run_the_other, timeout=1200)
    first_done = time.time()
    assert acted and first.rc == 0, first.stdout[-4000:]
    events = dict((event[0], event[1:]) for event in second)
    events["thread"][0].join(900)
    events = dict((event[0], event[1:]) for event in second)
    waited, asked, finished = events["done"]
    assert asked and "resumed" in events, waited.stdout[-3000:]
    # it waited for the first rather than failing, ended after it, and did what its inventory says: details is
    # pruned, which the first, untouched, had applied
    assert waited.rc == 0, waited.stdout[-4000:]
    assert "is being changed by another run" not in waited.stdout and finished > first_done
    assert not details_objects(lab), details_objects(lab)
    assert [lease(lab, context) for context in CLUSTERS] == [None, None]
    restored = run_playbook("federate.yml", full, timeout=900)
    assert restored.rc == 0 and len(details_objects(lab)) >= 4


def test_a_lock_left_on_another_machine_is_refused_until_broken_or_expired(lab, inventories):
    full, dummy = inventories
    converged = run_playbook("federate.yml", full, timeout=900)
    assert converged.rc == 0, converged.failure()
    before = marks(lab)
    stuck = foreign_lease("ci@elsewhere pid 311 start 42", datetime.utcnow(), 3600)
    lab.kubectl("cluster2", "apply", "-f", "-", input=json.dumps(stuck))

    refused = run_playbook("federate.yml", full, timeout=300)
    assert refused.rc != 0 and "held by ci@elsewhere pid 311 (since" in refused.stdout, refused.stdout[-3000:]
    assert "expires in 3" in refused.failure() and "meshfed_lock_break=true" in refused.failure()
    assert not role_results(refused) and marks(lab) == before
    # cluster1's lock, taken before cluster2's refusal was known, was released
    assert lease(lab, "cluster1") is None and lease(lab, "cluster2")["spec"]["holderIdentity"].startswith("ci@elsewhere")

    # a check run writes nothing, the lock included, and warns that its plan may be out of date
    check = run_playbook("federate.yml", full, "--check", timeout=300)
    assert check.rc == 0, check.failure()
    assert "ci@elsewhere pid 311" in check.stdout and "not after that run" in check.stdout
    assert lease(lab, "cluster1") is None and marks(lab) == before

    broken = run_playbook("federate.yml", full, "-e", "meshfed_lock_break=true", timeout=900)
    assert broken.rc == 0 and not broken.changed_tasks(), broken.failure() or broken.changed_tasks()
    assert "broke the lock of ci@elsewhere pid 311" in broken.stdout
    assert lease(lab, "cluster2") is None

    expired = foreign_lease("ci@elsewhere pid 311 start 42", datetime.utcnow() - timedelta(hours=2), 600)
    lab.kubectl("cluster2", "apply", "-f", "-", input=json.dumps(expired))
    taken = run_playbook("federate.yml", full, timeout=900)
    assert taken.rc == 0 and "took over the lock of ci@elsewhere pid 311, which expired" in taken.stdout
    assert lease(lab, "cluster2") is None and marks(lab) == before
