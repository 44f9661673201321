# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's controller, one background process per lab (``lab.py controller``, started by ``lab up``):

* forwards 127.0.0.1:15012 of every cluster's network namespace to that cluster's istiod, and the API servers'
  ports into the operator's namespace;
* gives the pods that matter their processes (proxies.py) when they appear and stops them when they go;
* gives LoadBalancer Services an address (loadbalancer.py), and the Services of gateways their ClusterIP
  (clusterip.py);
* applies the faults `lab fault` set on pods (faults.py): apps stopped or killed, addresses refusing connections.

It polls each API server once a second and writes what runs to mesh/<cluster>/workloads.json, which
``lab check`` and the tests read.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import traceback
import urllib.parse
from pathlib import Path

from labkit import clusterip, clusters, faults, forward, istiod, loadbalancer, netns, procs, proxies, refuse
from labkit.common import LabError, log
from labkit.kubeapi import Api, ApiError
from labkit.state import Lab

POLL_SECONDS = 1.0


class ClusterController:
    def __init__(self, lab: Lab, bin_dir: Path, name: str, info: dict):
        self.lab, self.bin_dir, self.name, self.info = lab, bin_dir, name, info
        self.netns = info["netns"]
        self.api = Api(clusters.credentials(lab, name), timeout=10)
        self.workloads: dict[str, proxies.Workload] = {}
        # gateways still draining after their pod went (their slot and address stay taken until they are gone)
        self.stopping: dict[str, proxies.Workload] = {}
        self.stopping_lock = threading.Lock()
        self.failures: dict[str, int] = {}
        # the faults `lab fault` set ({namespace/pod: [fault]}, read at each step), those applied to each workload,
        # and the pod addresses refusing connections
        self.marks: dict[str, list[str]] = {}
        self.applied: dict[str, set[str]] = {}
        self.refusals: dict[str, refuse.Refusal] = {}
        self.root_cert: str | None = None
        self.pool = netns.load_balancer_pool(name)
        self.summary_file = lab.workloads_file(name)
        self.last_summary = None
        self.stop_leftovers()

    def stop_leftovers(self) -> None:
        """Processes a previous controller of this lab started and did not stop (it was killed)."""
        for w in self.lab.workloads(self.name):
            for pid in w.get("pids", {}).values():
                procs.stop_group(pid, self.lab.home, grace=5)

    # ---------------------------------------------------------------- pods
    def desired(self) -> dict[str, tuple[dict, str]]:
        namespaces = {n["metadata"]["name"]: n["metadata"].get("labels") or {}
                      for n in self.api.get("/api/v1/namespaces")["items"]}
        res = {}
        for pod in self.api.get("/api/v1/pods")["items"]:
            meta, status = pod["metadata"], pod.get("status") or {}
            if meta.get("deletionTimestamp") or status.get("phase") != "Running" or not status.get("podIP"):
                continue
            ns_labels = namespaces.get(meta["namespace"], {})
            if ns_labels.get("lab.meshfed.io/mesh") == "off":
                continue
            kind = proxies.injected_kind(pod, ns_labels)
            if kind:
                res[meta["uid"]] = (pod, kind)
        return res

    def free_slot(self) -> proxies.Slot:
        with self.stopping_lock:
            used = {w.slot.index for w in list(self.workloads.values()) + list(self.stopping.values())}
        return proxies.Slot(next(i for i in range(10000) if i not in used))

    def start(self, pod: dict, kind: str) -> None:
        w = proxies.workload_of(self.name, pod, kind)
        w.slot = self.free_slot()
        if self.root_cert is None:
            self.root_cert = istiod.root_certificate(self.lab, self.name)
        token = self.api.token(w.namespace, w.service_account, "istio-ca")
        path = f"/api/v1/namespaces/{w.namespace}/pods/{w.name}"
        self.api.merge_patch(path, {"metadata": {"labels": {proxies.TLS_MODE_LABEL: w.labels[proxies.TLS_MODE_LABEL],
                                                            proxies.POD_LABEL: w.labels[proxies.POD_LABEL]}}})
        if kind == proxies.SIDECAR:
            sc = proxies.sidecar_resource(w)
            self.api.apply(f"/apis/networking.istio.io/v1/namespaces/{w.namespace}/sidecars/{sc['metadata']['name']}",
                           sc)
        netns.add_address(self.netns, w.ip, "lo")
        d = proxies.prepare(self.lab, w, token, self.root_cert)
        # an app killed by `lab fault app-kill` stays down until app-start, whatever else restarts
        proxies.start(self.lab, self.bin_dir, w, self.netns, d, with_apps=faults.APP_KILL not in self.marked(w))
        self.workloads[w.uid] = w
        log(f"{self.name}: {w.key} ({kind}{'/' + w.app if kind == proxies.SIDECAR else ''}) started at {w.ip}, "
            f"admin port {w.slot.admin}")

    def stop(self, uid: str, gone: bool = True) -> None:
        """Stop a workload. A gateway whose pod went drains in the background (proxies.stop), so that the others'
        pods keep being reconciled meanwhile; one whose process died is stopped at once."""
        w = self.workloads.pop(uid)
        self.applied.pop(uid, None)
        if w.kind == proxies.ROUTER and gone:
            with self.stopping_lock:
                self.stopping[uid] = w
            threading.Thread(target=self._finish_stop, args=(uid, w), daemon=True).start()
            return
        proxies.stop(self.lab, w)
        self._release(w)

    def _finish_stop(self, uid: str, w: proxies.Workload) -> None:
        try:
            proxies.stop(self.lab, w, self.netns)
        finally:
            with self.stopping_lock:
                self.stopping.pop(uid, None)
            self._release(w)

    def _release(self, w: proxies.Workload) -> None:
        if w.kind == proxies.SIDECAR:
            self.api.delete(f"/apis/networking.istio.io/v1/namespaces/{w.namespace}/sidecars/lab-{w.name}")
        with self.stopping_lock:
            others = list(self.workloads.values()) + list(self.stopping.values())
        if not any(o.ip == w.ip for o in others):
            netns.del_address(self.netns, w.ip, "lo")
        log(f"{self.name}: {w.key} stopped")

    def reconcile_pods(self) -> None:
        want = self.desired()
        for uid in [u for u in self.workloads if u not in want]:
            self.stop(uid)
        for uid, w in list(self.workloads.items()):
            exited = [key for key, pid in w.pids.items() if not procs.alive(pid)]
            if exited:
                log(f"{self.name}: {w.key}: {', '.join(exited)} exited (logs in {self.lab.log_dir}/mesh/{self.name}), "
                    f"restarting {'it' if len(exited) == 1 else 'them'}")
            if exited and set(exited) <= set(proxies.app_keys(w)):
                proxies.start_apps(self.lab, w, self.netns)
            elif exited:
                self.stop(uid, gone=False)
        for uid, (pod, kind) in want.items():
            if uid in self.workloads or self.failures.get(uid, 0) > 5:
                continue
            try:
                self.start(pod, kind)
            except (ApiError, LabError, OSError, KeyError) as e:
                self.failures[uid] = self.failures.get(uid, 0) + 1
                log(f"{self.name}: {pod['metadata']['namespace']}/{pod['metadata']['name']} not started "
                    f"(try {self.failures[uid]}): {e}")

    # ---------------------------------------------------------------- load balancers
    def reconcile_load_balancers(self, services: list[dict]) -> None:
        wanted = loadbalancer.wanted(services)
        assigned = loadbalancer.assign(wanted, self.pool)
        for key, address in assigned.items():
            if wanted[key] != address:
                ns, name = key.split("/")
                self.api.merge_patch(f"/api/v1/namespaces/{ns}/services/{name}/status",
                                     loadbalancer.status_patch(address))
                log(f"{self.name}: Service {key} gets load balancer address {address}")
        have = netns.addresses(self.netns, "eth0") & set(self.pool)
        for address in set(assigned.values()) - have:
            netns.add_address(self.netns, address, "eth0")
        for address in have - set(assigned.values()):
            netns.del_address(self.netns, address, "eth0")

    def reconcile_cluster_ips(self, services: list[dict]) -> None:
        routers = [(w.namespace, w.labels) for w in self.workloads.values() if w.kind == proxies.ROUTER]
        wanted = clusterip.wanted(services, routers)
        have = clusterip.held(netns.addresses(self.netns, "lo"))
        for address in sorted(wanted - have):
            netns.add_address(self.netns, address, "lo")
            log(f"{self.name}: ClusterIP {address} of a gateway Service now carries traffic")
        for address in sorted(have - wanted):
            netns.del_address(self.netns, address, "lo")
            log(f"{self.name}: ClusterIP {address} released (its Service is gone or selects no gateway)")

    # ---------------------------------------------------------------- faults
    def marked(self, w: proxies.Workload) -> set[str]:
        return set(self.marks.get(w.key, ()))

    def reconcile_faults(self) -> None:
        for uid, w in self.workloads.items():
            applied = self.applied.setdefault(uid, set())
            # again at every step: an app restarted meanwhile is stopped too
            for fault in sorted(self.marked(w) & {faults.APP_KILL, faults.APP_STOP}):
                faults.apply_app_fault(self.lab, w, fault)
                if fault not in applied:
                    applied.add(fault)
                    log(f"{self.name}: {w.key}: {fault}")
            for fault in sorted(applied - self.marked(w)):
                faults.undo_app_fault(self.lab, w, fault, self.netns)
                applied.discard(fault)
                log(f"{self.name}: {w.key}: {fault} undone")
        refused = {w.ip for w in self.workloads.values() if faults.ENDPOINT_REFUSE in self.marked(w)}
        for address in sorted(refused - set(self.refusals)):
            try:
                self.refusals[address] = refuse.Refusal(self.netns, address)
            except (LabError, OSError) as e:  # tried again at the next step; `lab fault` waits, then names this log
                log(f"{self.name}: cannot refuse connections to {address}: {e}")
                continue
            refuse.reset_connections(self.netns, address)
            log(f"{self.name}: connections to {address} refused")
        for address in sorted(set(self.refusals) - refused):
            self.refusals.pop(address).close()
            log(f"{self.name}: connections to {address} accepted again")

    def faults_of(self, uid: str, w: proxies.Workload) -> list[str]:
        return sorted(self.applied.get(uid, set()) | ({faults.ENDPOINT_REFUSE} if w.ip in self.refusals else set()))

    def write_summary(self) -> None:
        summary = {"cluster": self.name, "netns": self.netns,
                   "workloads": sorted((dict(w.summary(self.netns), faults=self.faults_of(uid, w))
                                        for uid, w in self.workloads.items()),
                                       key=lambda s: (s["namespace"], s["pod"]))}
        if summary != self.last_summary:
            self.summary_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.summary_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
            tmp.replace(self.summary_file)
            self.last_summary = summary

    def step(self) -> None:
        self.marks = self.lab.faults(self.name)
        self.reconcile_pods()
        services = self.api.get("/api/v1/services")["items"]
        self.reconcile_load_balancers(services)
        self.reconcile_cluster_ips(services)
        self.reconcile_faults()
        self.write_summary()

    def shutdown(self) -> None:
        for refusal in self.refusals.values():
            refusal.close()
        for uid in list(self.workloads):
            w = self.workloads.pop(uid)
            proxies.stop(self.lab, w)
        with self.stopping_lock:
            draining = list(self.stopping.values())
        for w in draining:
            proxies.stop(self.lab, w)


def run(lab: Lab) -> int:
    state = lab.state()
    mesh = state["mesh"]
    bin_dir = Path(state["bin_dir"])
    clusterip.check_ranges()
    controllers = []
    for name, info in sorted(mesh["clusters"].items()):
        forward.forward(info["netns"], ("127.0.0.1", 15012), ("127.0.0.1", info["istiod"]["ports"]["secure_grpc"]))
        # the operator's machine reaches every API server at the kubeconfig's address
        api_port = urllib.parse.urlsplit(clusters.credentials(lab, name)["server"]).port
        forward.forward(mesh["operator_netns"], ("127.0.0.1", api_port), ("127.0.0.1", api_port))
        controllers.append(ClusterController(lab, bin_dir, name, info))
    stopping = threading.Event()

    def on_term(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    (lab.mesh_dir / "controller.ready").write_text(str(time.time()))
    log(f"controller: {len(controllers)} clusters")
    while not stopping.is_set():
        for c in controllers:
            try:
                c.step()
            except Exception:  # keep serving the other clusters; the log says what happened
                log(f"{c.name}: controller step failed:\n{traceback.format_exc()}")
        stopping.wait(POLL_SECONDS)
    for c in controllers:
        c.shutdown()
    log("controller: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(run(Lab()))
