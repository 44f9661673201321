# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation lock: who may take a Lease, what is written, and how two runs racing for it end."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
from datetime import datetime, timedelta

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.apply import lock
from ansible_collections.meshfed.federation.plugins.module_utils.apply.lock import (
    acquire, CREATE, decide, HELD, holder_identity, lease_object, LockHeld, parse_holder, release, RENEW,
    run_process, TAKE)
from ansible_collections.meshfed.federation.plugins.plugin_utils.lock_verdict import refusal_verdict

NOW = datetime(2026, 12, 2, 12, 0, 0)
ME = holder_identity("ops", "laptop", 4242, 777)
OTHER_HERE = holder_identity("ops", "laptop", 5151, 888)
OTHER_THERE = holder_identity("ci", "runner-7", 311, 999)


def lease(holder, renewed=NOW, duration=1800, version="7"):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "meshfed-bookinfo", "namespace": "kube-system", "resourceVersion": version,
                         "uid": "u-1"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                     "acquireTime": lock.format_time(renewed - timedelta(seconds=60)),
                     "renewTime": lock.format_time(renewed)}}


def alive(*processes):
    return lambda pid, start: (pid, start) in processes


def test_a_missing_lease_is_created_and_this_runs_own_is_renewed():
    assert decide(None, ME, NOW, "laptop", alive(), False) == (CREATE, None)
    assert decide(lease(ME), ME, NOW, "laptop", alive(), False) == (RENEW, None)
    assert decide(lease(""), ME, NOW, "laptop", alive(), False) == (TAKE, None)


def test_a_live_run_of_this_machine_or_another_holds_the_lock():
    assert decide(lease(OTHER_HERE), ME, NOW, "laptop", alive((5151, 888)), False)[0] == HELD
    assert decide(lease(OTHER_THERE), ME, NOW, "laptop", alive(), False)[0] == HELD


def test_a_run_of_this_machine_whose_process_is_gone_or_was_replaced_leaves_a_lock_taken_over_with_a_reason():
    action, why = decide(lease(OTHER_HERE), ME, NOW, "laptop", alive(), False)
    assert action == TAKE and "ops@laptop pid 5151" in why and "ended without releasing" in why
    # the same pid, started later: another process
    assert decide(lease(OTHER_HERE), ME, NOW, "laptop", alive((5151, 999)), False)[0] == TAKE


def test_an_expired_lock_is_taken_over_and_one_of_another_machine_only_so_or_broken():
    old = NOW - timedelta(seconds=1801)
    action, why = decide(lease(OTHER_THERE, renewed=old), ME, NOW, "laptop", alive(), False)
    assert action == TAKE and "expired" in why and "ci@runner-7 pid 311" in why
    assert decide(lease(OTHER_THERE, renewed=old + timedelta(seconds=2)), ME, NOW, "laptop", alive(), False)[0] == HELD
    action, why = decide(lease(OTHER_THERE), ME, NOW, "laptop", alive(), True)
    assert action == TAKE and "broke" in why


def test_a_holder_someone_else_wrote_is_held_until_it_expires():
    foreign = lease("kube-controller-manager_abc")
    assert parse_holder("kube-controller-manager_abc") is None
    assert decide(foreign, ME, NOW, "laptop", alive(), False)[0] == HELD


def test_the_lease_written_names_the_holder_keeps_the_acquire_time_of_a_renewal_and_counts_transitions():
    created = lease_object("meshfed-bookinfo", "kube-system", "bookinfo", ME, 600, NOW)
    assert "resourceVersion" not in created["metadata"]
    assert created["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "meshfed", "meshfed.io/federation": "bookinfo"}
    assert created["spec"] == {"holderIdentity": ME, "leaseDurationSeconds": 600, "acquireTime": "2026-12-02T12:00:00.000000Z",
                               "renewTime": "2026-12-02T12:00:00.000000Z", "leaseTransitions": 0}
    mine = lease(ME)
    renewed = lease_object("meshfed-bookinfo", "kube-system", "bookinfo", ME, 600, NOW + timedelta(seconds=5), mine)
    assert renewed["metadata"]["resourceVersion"] == "7"
    assert renewed["spec"]["acquireTime"] == mine["spec"]["acquireTime"] and renewed["spec"]["leaseTransitions"] == 0
    taken = lease_object("meshfed-bookinfo", "kube-system", "bookinfo", ME, 600, NOW, lease(OTHER_THERE))
    assert taken["spec"]["acquireTime"] == "2026-12-02T12:00:00.000000Z" and taken["spec"]["leaseTransitions"] == 1


class FakeLeases(object):
    """One Lease in an API server: optimistic concurrency as the real one does it (409 is None here, as in
    ClusterClient). ``before_write`` runs once, just before the first write, as another run would."""

    cluster = "cluster2"

    def __init__(self, stored=None, before_write=None):
        self.stored = copy.deepcopy(stored)
        self.version = 7
        self.before_write = before_write
        self.writes = []

    def get(self, dummy_obj):
        return copy.deepcopy(self.stored)

    def _race(self):
        if self.before_write:
            hook, self.before_write = self.before_write, None
            hook(self)

    def _store(self, obj):
        self.version += 1
        self.stored = copy.deepcopy(obj)
        self.stored["metadata"].update(resourceVersion=str(self.version), uid="u-1")
        self.writes.append(obj["spec"]["holderIdentity"])
        return copy.deepcopy(self.stored)

    def create(self, obj):
        self._race()
        return None if self.stored is not None else self._store(obj)

    def replace(self, obj):
        self._race()
        if self.stored is None or obj["metadata"]["resourceVersion"] != self.stored["metadata"]["resourceVersion"]:
            return None
        return self._store(obj)

    def delete(self, live, unchanged=False):
        assert unchanged
        if self.stored and self.stored["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]:
            self.stored = None


class Clock(object):
    def __init__(self):
        self.now = (NOW - datetime(1970, 1, 1)).total_seconds()
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def take(api, timeout=0, break_lock=False, clock=None, who=ME, processes=()):
    clock = clock or Clock()
    return acquire(api, "meshfed-bookinfo", "kube-system", "bookinfo", who, "laptop", 1800, timeout, break_lock,
                   clock=clock, sleep=clock.sleep, alive=alive(*processes))


def test_of_two_runs_racing_for_a_free_lock_one_wins_and_the_other_is_refused_naming_it():
    def other_run_creates_first(api):
        api._store(lease_object("meshfed-bookinfo", "kube-system", "bookinfo", OTHER_THERE, 1800, NOW))
    api = FakeLeases(before_write=other_run_creates_first)
    with pytest.raises(LockHeld) as refused:
        take(api)
    assert api.stored["spec"]["holderIdentity"] == OTHER_THERE and api.writes == [OTHER_THERE]
    message = str(refused.value)
    assert message.startswith("cluster cluster2: federation bookinfo is being changed by another run: Lease "
                              "kube-system/meshfed-bookinfo is held by ci@runner-7 pid 311 (since 2026-12-02T12:00:00")
    assert "expires in 1800s" in message and "meshfed_lock_timeout" in message and "meshfed_lock_break" in message
    assert refused.value.holder == "ci@runner-7 pid 311"


def test_a_takeover_racing_another_takeover_reads_again_and_loses_to_it():
    def other_run_takes_over_first(api):
        api._store(lease_object("meshfed-bookinfo", "kube-system", "bookinfo", OTHER_THERE, 1800, NOW,
                                api.get(None)))
    api = FakeLeases(lease(OTHER_HERE), before_write=other_run_takes_over_first)  # OTHER_HERE is gone
    with pytest.raises(LockHeld):
        take(api)
    assert api.writes == [OTHER_THERE]


def test_a_run_waits_for_the_lock_up_to_its_timeout_and_gets_it_once_released():
    api = FakeLeases(lease(OTHER_THERE))
    clock = Clock()
    original_sleep = clock.sleep

    def sleep_then_release(seconds):
        original_sleep(seconds)
        if len(clock.slept) == 3:
            api.stored["spec"]["holderIdentity"] = ""
    clock.sleep = sleep_then_release
    taken, why = take(api, timeout=60, clock=clock)
    assert taken["spec"]["holderIdentity"] == ME and why is None and clock.slept == [2.0, 2.0, 2.0]

    clock = Clock()
    with pytest.raises(LockHeld) as refused:
        take(FakeLeases(lease(OTHER_THERE)), timeout=5, clock=clock)
    assert clock.slept == [2.0, 2.0, 1.0] and "waited 5s" in str(refused.value)


def test_release_deletes_only_this_runs_lock_and_says_when_another_took_it():
    api = FakeLeases(lease(ME))
    assert release(api, "meshfed-bookinfo", "kube-system", ME) is None and api.stored is None
    assert release(api, "meshfed-bookinfo", "kube-system", ME) is None  # gone already
    api = FakeLeases(lease(OTHER_THERE))
    warning = release(api, "meshfed-bookinfo", "kube-system", ME)
    assert "taken over by ci@runner-7 pid 311" in warning and api.stored["spec"]["holderIdentity"] == OTHER_THERE


def test_the_run_is_the_topmost_ansible_playbook_process_above_the_module():
    # module (python) -> sh -> worker (a fork of ansible-playbook) -> ansible-playbook -> bash
    table = {900: (899, 50, ["/usr/bin/python3", "AnsiballZ_federation_lock.py"]),
             899: (850, 49, ["/bin/sh", "-c", "python3 ..."]),
             850: (800, 40, ["/usr/bin/python3", "/usr/bin/ansible-playbook", "federate.yml"]),
             800: (700, 30, ["/usr/bin/python3", "/usr/bin/ansible-playbook", "federate.yml"]),
             700: (1, 10, ["bash"])}

    def stat(pid):
        return table[pid][:2] if pid in table else None

    def argv(pid):
        return table[pid][2]
    assert run_process(900, stat, argv) == (800, 30)
    assert run_process(700, stat, argv) is None  # not under ansible-playbook


def test_this_process_is_found_alive_and_a_later_one_with_its_pid_is_not():
    pid = os.getpid()
    start = lock.read_stat(pid)[1]
    assert lock.process_alive(pid, start) and not lock.process_alive(pid, start + 1)


def test_every_cluster_fails_with_one_message_naming_where_another_run_holds_the_lock():
    refused = {"failed": True, "held_by": "ci@runner-7 pid 311", "msg": "cluster cluster2: federation bookinfo is ..."}
    unreachable = {"failed": True, "msg": "cluster cluster3: API server at https://127.0.0.1:9 unreachable"}
    assert refusal_verdict([("cluster1", {"held": True}), ("cluster2", refused), ("cluster3", unreachable)]) == (
        "Another run holds the federation's lock in cluster2, so this run changes no cluster. "
        "cluster cluster2: federation bookinfo is ...")
    assert refusal_verdict([("cluster1", {"held": True}), ("cluster3", unreachable), ("cluster4", None)]) == ""
