# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`lab fault`: faults of a cluster as they happen to real ones, for the fault matrix's tests.

* ``apiserver-kill CLUSTER``: SIGKILL the cluster's kube-apiserver (what a crashed or OOM-killed one looks like to
  a client: connections reset, then refused).
* ``apiserver-start CLUSTER``: bring it back (kwokctl stops what is left of the cluster and starts it again, on the
  same ports and the same etcd data), then wait until it serves.
* ``bare-up CLUSTER``: a Kubernetes cluster of the lab's binaries without Istio (no CRDs, no istiod), its kubeconfig
  in ``<lab>/CLUSTER.kubeconfig`` (context CLUSTER); it is not one of the lab's clusters (lab.json), and
  ``bare-down CLUSTER`` or ``lab down`` deletes it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from labkit import clusters, procs
from labkit.common import LabError, cache_dir, log
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
    wait_node_leases(lab, cluster, t0, deadline)
    log(f"{cluster}: kube-apiserver serving again, its controllers working, its node's lease renewed "
        f"({time.time() - t0:.1f}s)")


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


def bare_kubeconfig(lab: Lab, cluster: str) -> Path:
    return lab.home / f"{cluster}.kubeconfig"


def bare_up(lab: Lab, cluster: str) -> None:
    if cluster in lab.state().get("clusters", {}):
        raise LabError(f"{cluster} is one of the lab's clusters; name the bare one otherwise")
    t0 = time.time()
    bin_dir = Path(lab.state()["bin_dir"])
    if not (lab.cluster_dir(cluster).is_dir() and clusters.cluster_running(lab, cluster)):
        if lab.cluster_dir(cluster).is_dir():
            clusters.delete_cluster(lab, bin_dir, cluster)
        with open(cache_dir() / "create.lock", "w") as lock:  # as lab up: one creation at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
            clusters.create_cluster(lab, bin_dir, cluster, clusters.kwok_config(lab))
    clusters.write_kubeconfig(lab, [cluster], bare_kubeconfig(lab, cluster))
    log(f"{cluster}: up without Istio, kubeconfig {bare_kubeconfig(lab, cluster)} ({time.time() - t0:.1f}s)")


def bare_down(lab: Lab, cluster: str) -> None:
    if cluster in lab.state().get("clusters", {}):
        raise LabError(f"{cluster} is one of the lab's clusters: lab down deletes it")
    state = lab.state()
    stopped = clusters.delete_cluster(lab, Path(state["bin_dir"]) if state.get("bin_dir") else None, cluster)
    bare_kubeconfig(lab, cluster).unlink(missing_ok=True)
    log(f"{cluster}: deleted (stopped pids {stopped})")


def renewed_at(lease: dict) -> float:
    stamp = (lease.get("spec") or {}).get("renewTime") or ""
    try:
        return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return 0.0


def wait_node_leases(lab: Lab, cluster: str, since: float, deadline: float) -> None:
    """Until the restarted kwok holds and renews its node's lease. It cannot take over the lease of the kwok that
    was stopped until that one expires (--node-lease-duration-seconds, 200 s), about as long as the controller
    manager's node grace period: meanwhile the node may go NotReady, and what the namespace controller deletes stays
    Terminating. The stale lease is deleted, so that kwok makes its own."""
    lab.kubectl(cluster, "delete", "lease", "--all", "-n", "kube-node-lease", check=False)
    while True:
        done = lab.kubectl(cluster, "get", "lease", "-n", "kube-node-lease", "-o", "json", check=False)
        leases = json.loads(done.stdout)["items"] if done.returncode == 0 else []
        if leases and all(renewed_at(lease) >= since - 1 for lease in leases):
            return
        if time.time() > deadline:
            raise LabError(f"{cluster}: kwok has not renewed its node's lease since the restart")
        time.sleep(1)


def cmd_fault(lab: Lab, fault: str, cluster: str) -> int:
    if fault == "apiserver-kill":
        kill_apiserver(lab, cluster)
    elif fault == "apiserver-start":
        start_apiserver(lab, cluster)
    elif fault == "bare-up":
        bare_up(lab, cluster)
    elif fault == "bare-down":
        bare_down(lab, cluster)
    else:
        raise LabError(f"unknown fault {fault}")
    return 0
