# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`lab fault`: faults of a cluster as they happen to real ones, for the fault matrix's tests.

* ``apiserver-kill CLUSTER``: SIGKILL the cluster's kube-apiserver (what a crashed or OOM-killed one looks like to
  a client: connections reset, then refused).
* ``apiserver-start CLUSTER``: bring it back (kwokctl stops what is left of the cluster and starts it again, on the
  same ports and the same etcd data), then wait until it serves.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from labkit import clusters, procs
from labkit.common import LabError, log
from labkit.state import Lab


def apiserver_pid(lab: Lab, cluster: str) -> int:
    pid = clusters.cluster_pids(lab, cluster).get("kube-apiserver")
    if not pid:
        raise LabError(f"{cluster}: no kube-apiserver pid in {lab.cluster_dir(cluster)}/pids")
    return pid


def kill_apiserver(lab: Lab, cluster: str) -> None:
    pid = apiserver_pid(lab, cluster)
    if procs.owned_by(pid, lab.home):
        os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while procs.alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    log(f"{cluster}: kube-apiserver (pid {pid}) killed")


def start_apiserver(lab: Lab, cluster: str, timeout: float = 240) -> None:
    bin_dir = lab.state()["bin_dir"]
    t0 = time.time()
    lab.kwokctl(Path(bin_dir), "--name", cluster, "stop", "cluster")
    lab.kwokctl(Path(bin_dir), "--name", cluster, "start", "cluster")
    deadline = time.time() + timeout
    while not clusters.cluster_running(lab, cluster):
        if time.time() > deadline:
            raise LabError(f"{cluster}: not serving {timeout:.0f}s after kwokctl start cluster")
        time.sleep(0.5)
    state = lab.state()
    state["clusters"][cluster] = clusters.cluster_info(lab, cluster)  # new processes
    lab.save_state(state)
    wait_controllers(lab, cluster, deadline)
    log(f"{cluster}: kube-apiserver serving again, its controllers working ({time.time() - t0:.1f}s)")


def wait_controllers(lab: Lab, cluster: str, deadline: float) -> None:
    """Until a namespace made and deleted goes away: the controller manager runs again (its namespace controller,
    which a federation's removal needs, starts some time after the API server)."""
    probe = "lab-fault-probe"
    lab.kubectl(cluster, "create", "namespace", probe, check=False)
    lab.kubectl(cluster, "delete", "namespace", probe, "--wait=false", check=False)
    while lab.kubectl(cluster, "get", "namespace", probe, check=False).returncode == 0:
        if time.time() > deadline:
            raise LabError(f"{cluster}: namespace {probe} still there after the restart; is kube-controller-manager up?")
        time.sleep(1)


def cmd_fault(lab: Lab, fault: str, cluster: str) -> int:
    if fault == "apiserver-kill":
        kill_apiserver(lab, cluster)
    elif fault == "apiserver-start":
        start_apiserver(lab, cluster)
    else:
        raise LabError(f"unknown fault {fault}")
    return 0
