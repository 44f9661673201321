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

Faults of the pods ``NAMESPACE/POD-PREFIX`` of a cluster (every pod with a proxy whose name starts so), for the
failover drills. They are marks in ``mesh/CLUSTER/faults.json`` that the controller applies at its next step and
keeps applied (to a restarted process too) until they are undone; ``pod_fault`` returns once the controller
reports them in workloads.json (``faults``). ``lab down`` undoes them all (it stops every process, deletes the
network namespaces and the marks).

* ``app-stop``: SIGSTOP the pod's sample app servers (not its sidecar): the pod stays Ready and its sidecar
  accepts connections, the app answers nothing (a hung app). ``app-start`` continues them (SIGCONT).
* ``app-kill``: SIGKILL the app servers and leave them down: connections to the app's port are refused, so its
  sidecar answers 503 (a crashed app the kubelet has not restarted yet). ``app-start`` starts them again, as the
  controller starts apps.
* ``endpoint-refuse``: every new TCP connection to the pod's address is refused (ECONNREFUSED, refuse.py) and those
  it had are reset; its processes go on. ``endpoint-restore`` undoes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from labkit import clusters, netns, procs, proxies
from labkit.common import LabError, cache_dir, log
from labkit.state import Lab

APP_STOP, APP_KILL, ENDPOINT_REFUSE = "app-stop", "app-kill", "endpoint-refuse"
# lab fault NAME: (the marks it sets or clears, whether it sets them)
POD_FAULTS = {
    "app-stop": ((APP_STOP,), True), "app-kill": ((APP_KILL,), True), "app-start": ((APP_STOP, APP_KILL), False),
    "endpoint-refuse": ((ENDPOINT_REFUSE,), True), "endpoint-restore": ((ENDPOINT_REFUSE,), False),
}
UNDO = {"app-stop": "app-start", "app-kill": "app-start", "endpoint-refuse": "endpoint-restore"}
APPLIED_SECONDS = 30


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


def targets(lab: Lab, cluster: str, pod: str, sidecars_only: bool) -> list[dict]:
    """The workloads of the pods ``namespace/pod-name-prefix`` of ``cluster`` (workloads.json)."""
    namespace, dummy, prefix = pod.partition("/")
    workloads = lab.workloads(cluster)
    found = [w for w in workloads if w["namespace"] == namespace and w["pod"].startswith(prefix)
             and (w["kind"] == proxies.SIDECAR or not sidecars_only)]
    if not namespace or not found:
        raise LabError(f"{cluster}: no pod {namespace}/{prefix}*{' with a sidecar' if sidecars_only else ''} "
                       f"runs in the mesh; have: {', '.join(w['namespace'] + '/' + w['pod'] for w in workloads) or 'none'}")
    return found


def write_marks(lab: Lab, cluster: str, keys: list[str], marks: tuple[str, ...], on: bool) -> None:
    """Set or clear ``marks`` of the pods ``keys`` (namespace/pod) in the cluster's faults file; the marks of pods
    that no longer run are dropped."""
    path = lab.faults_file(cluster)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        running = {f"{w['namespace']}/{w['pod']}" for w in lab.workloads(cluster)}
        held = {k: set(v) for k, v in lab.faults(cluster).items() if k in running}
        for key in keys:
            held[key] = (held.get(key, set()) | set(marks)) if on else (held.get(key, set()) - set(marks))
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: sorted(v) for k, v in sorted(held.items()) if v}, indent=2) + "\n")
        tmp.replace(path)


def wait_applied(lab: Lab, cluster: str, keys: list[str], marks: tuple[str, ...], on: bool,
                 timeout: float = APPLIED_SECONDS) -> list[dict]:
    """Until the controller reports ``marks`` applied to (``on``) or gone from every pod of ``keys``; their
    workloads then."""
    deadline = time.time() + timeout
    while True:
        found = {f"{w['namespace']}/{w['pod']}": w for w in lab.workloads(cluster)}

        def holds(w: dict) -> bool:
            have = set(w.get("faults", ()))
            return set(marks) <= have if on else not set(marks) & have
        done = [found[k] for k in keys if k in found and holds(found[k])]
        if len(done) == len(keys):
            return done
        if time.time() > deadline:
            raise LabError(f"{cluster}: the controller has not {'applied' if on else 'undone'} {', '.join(marks)} "
                           f"on {', '.join(keys)} in {timeout:.0f}s (see {lab.log_dir}/controller.log)")
        time.sleep(0.2)


def wait_apps_listening(w: dict, deadline: float) -> None:
    for port in w["app_ports"].values():
        while True:
            try:
                netns.connect(w["netns"], ("127.0.0.1", port), timeout=2).close()
                break
            except OSError as e:
                if time.time() > deadline:
                    raise LabError(f"{w['namespace']}/{w['pod']}: its app does not listen on 127.0.0.1:{port}: {e}")
                time.sleep(0.2)


def pod_fault(lab: Lab, fault: str, cluster: str, pod: str, timeout: float = APPLIED_SECONDS) -> list[dict]:
    """Set or undo a fault (POD_FAULTS) of the pods ``namespace/pod-name-prefix`` of ``cluster``; returns their
    workloads once the controller has applied it (and, for app-start, their apps listen again)."""
    marks, on = POD_FAULTS[fault]
    keys = [f"{w['namespace']}/{w['pod']}" for w in targets(lab, cluster, pod, fault.startswith("app-"))]
    write_marks(lab, cluster, keys, marks, on)
    deadline = time.time() + timeout
    workloads = wait_applied(lab, cluster, keys, marks, on, timeout)
    if fault == "app-start":
        for w in workloads:
            wait_apps_listening(w, deadline)
    log(f"{cluster}: {fault} {', '.join(keys)}")
    return workloads


@contextlib.contextmanager
def holding(lab: Lab, fault: str, cluster: str, pod: str):
    """The block runs with the fault set; it is undone after, whatever happens."""
    try:
        yield pod_fault(lab, fault, cluster, pod)
    finally:
        pod_fault(lab, UNDO[fault], cluster, pod)


def apply_app_fault(lab: Lab, w: proxies.Workload, fault: str) -> None:
    """(the controller) app-stop or app-kill on the app servers of a workload; a killed one leaves ``w.pids``."""
    if fault == APP_STOP:
        signal_apps(lab, w, signal.SIGSTOP, procs.stopped)
    else:
        for key in signal_apps(lab, w, signal.SIGKILL, lambda pid: not procs.alive(pid)):
            w.pids.pop(key)


def undo_app_fault(lab: Lab, w: proxies.Workload, fault: str, ns: str) -> None:
    """(the controller) continue stopped app servers, or start killed ones."""
    if fault == APP_STOP:
        signal_apps(lab, w, signal.SIGCONT, lambda pid: not procs.stopped(pid))
    else:
        proxies.start_apps(lab, w, ns)


def signal_apps(lab: Lab, w: proxies.Workload, sig: int, done, timeout: float = 10) -> list[str]:
    """Send ``sig`` to the workload's app servers and wait until ``done(pid)`` for each; returns their keys."""
    keys = [k for k in proxies.app_keys(w) if k in w.pids and procs.owned_by(w.pids[k], lab.home)]
    for key in keys:
        procs.kill(w.pids[key], sig)
    deadline = time.time() + timeout
    while time.time() < deadline and not all(done(w.pids[k]) for k in keys):
        time.sleep(0.05)
    return keys


def cmd_fault(lab: Lab, fault: str, cluster: str, pod: str | None = None) -> int:
    if fault in POD_FAULTS:
        if not pod:
            raise LabError(f"lab fault {fault} CLUSTER NAMESPACE/POD-PREFIX")
        pod_fault(lab, fault, cluster, pod)
    elif fault == "apiserver-kill":
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
