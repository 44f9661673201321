#!/usr/bin/env python
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab: N real local Kubernetes clusters (kwokctl, binary runtime) on 127.0.0.1, each with its own istiod,
network namespace and Envoy proxies for the pods that matter (see docs/lab.md).

    tools/lab/lab up [N] [--no-mesh]   build (cached) + create/reuse cluster1..N, Istio CRDs, one kubeconfig,
                                       and (unless --no-mesh) istiod per cluster, network, proxies, load balancers
    tools/lab/lab down                 stop every process, delete every cluster, namespace and link of the lab
    tools/lab/lab check [--json] [--quick]
                                       per cluster: version, nodes, Istio CRDs, istiod, istioctl analyze;
                                       per proxy: xDS sync, rejected updates, SDS secrets
    tools/lab/lab request CLUSTER NS/POD URL [--count N]
                                       HTTP requests from beside a pod's sidecar, and who answered
    tools/lab/lab operator -- COMMAND  COMMAND inside the lab's network (load balancer addresses reachable), with
                                       the API servers forwarded: e.g. ansible-playbook playbooks/status.yml
    tools/lab/lab fault FAULT CLUSTER [NAMESPACE/POD-PREFIX]
                                       a fault for a drill (labkit/faults.py): apiserver-kill, apiserver-start,
                                       bare-up, bare-down; app-stop, app-kill, app-start, endpoint-refuse,
                                       endpoint-restore

Python 3.11, stdlib + PyYAML (the sample apps' TLS and gRPC servers also use cryptography and grpcio).
"""

from __future__ import annotations

import argparse
import fcntl
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labkit import clusters, istio_base, mesh, procs  # noqa: E402  pylint: disable=wrong-import-position
from labkit.check import cmd_check  # noqa: E402  pylint: disable=wrong-import-position
from labkit.common import LabError, cache_dir, cluster_sort_key, log  # noqa: E402  pylint: disable=wrong-import-position
from labkit.state import Lab  # noqa: E402  pylint: disable=wrong-import-position


def cmd_up(lab: Lab, n: int, with_mesh: bool) -> int:
    if n < 1:
        raise LabError("N must be >= 1")
    t0 = time.time()
    lab.home.mkdir(parents=True, exist_ok=True)
    log("building binaries (tools/lab/build.sh; fast when cached) ...")
    bin_dir = lab.build()
    t_build = time.time() - t0
    log(f"binaries: {bin_dir} ({t_build:.1f}s)")
    kubectl = lab.kubectl_path(bin_dir)
    state = lab.state()
    stale = bool(state.get("bin_dir")) and state["bin_dir"] != str(bin_dir)
    if stale:
        log(f"binaries changed ({state['bin_dir']} -> {bin_dir}): existing clusters are recreated")
    state.update({"bin_dir": str(bin_dir), "kubectl": kubectl, "kwok_dir": str(lab.kwok_dir),
                  "kubeconfig": str(lab.kubeconfig)})
    lab.save_state(state)
    conf = clusters.kwok_config(lab)
    names = [f"cluster{i}" for i in range(1, n + 1)]
    for extra in [c for c in lab.existing_clusters() if c not in names]:
        log(f"{extra}: not wanted (N={n}), deleting")
        clusters.delete_cluster(lab, bin_dir, extra)
    created = []
    for name in names:
        t = time.time()
        if lab.cluster_dir(name).is_dir():
            if not stale and clusters.cluster_running(lab, name):
                log(f"{name}: running, reused")
                continue
            log(f"{name}: present but {'built from other binaries' if stale else 'not healthy'}, recreating")
            clusters.delete_cluster(lab, bin_dir, name)
        # kwokctl picks free ports when it writes a cluster's config and binds them only when it starts
        # it: one creation at a time on this machine, whatever lab dir
        with open(cache_dir() / "create.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            clusters.create_cluster(lab, bin_dir, name, conf)
        created.append(name)
        log(f"{name}: created ({time.time() - t:.1f}s)")
    clusters.write_kubeconfig(lab, names)
    istio_dir, crd_file = istio_base.istio_sources()
    istio_version = istio_base.istio_version(istio_dir)
    crds = istio_base.crd_names(crd_file)

    def setup(name: str) -> None:
        t = time.time()
        clusters.ensure_node(lab, bin_dir, name)
        istio_base.install_istio(lab, name, crd_file, crds, istio_version)
        log(f"{name}: node Ready, {len(crds)} Istio CRDs Established, istio-system/istio ConfigMap, istiod "
            f"Deployment {istio_version} ({time.time() - t:.1f}s)")

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        for f in [pool.submit(setup, name) for name in names]:
            f.result()
    info = {name: clusters.cluster_info(lab, name) for name in names}
    state.update({"clusters": info, "crd_file": str(crd_file), "istio_api_dir": str(crd_file.parent.parent)})
    lab.save_state(state)
    bad = [s for c in info.values() for s in c["listen"] if not s.startswith("127.0.0.1:")]
    if bad:
        raise LabError(f"non-loopback listeners: {bad}")
    if with_mesh:
        mesh_state = mesh.up(lab, bin_dir, names, created)
    else:
        if state.get("mesh"):
            log("--no-mesh: stopping the mesh")
            mesh.down(lab)
        mesh_state = None
    state = lab.state()
    state.update({"mesh": mesh_state, "up_seconds": round(time.time() - t0, 1), "build_seconds": round(t_build, 1)})
    if mesh_state is None:
        state.pop("mesh")
    lab.save_state(state)
    log(f"lab up: {n} clusters ({', '.join(names)}; created: {', '.join(created) or 'none'}; "
        f"mesh: {'on' if with_mesh else 'off'}) in {time.time() - t0:.1f}s")
    print(f"export KUBECONFIG={lab.kubeconfig}")
    return 0


def cmd_down(lab: Lab) -> int:
    t0 = time.time()
    state = lab.state()
    bin_dir = Path(state["bin_dir"]) if state.get("bin_dir") else None
    namespaces = mesh.down(lab)
    names = sorted(set(lab.existing_clusters()) | set(state.get("clusters", {})), key=cluster_sort_key)
    all_pids: set[int] = set()
    ports: set[int] = set()
    for name in names:
        info = state.get("clusters", {}).get(name, {})
        ports.update(info.get("ports", []))
        pids = set(clusters.cluster_pids(lab, name).values()) | set(info.get("pids", {}).values())
        ports.update(s["port"] for s in procs.listening({p for p in pids if procs.owned_by(p, lab.home)}))
        stopped = clusters.delete_cluster(lab, bin_dir, name)
        all_pids.update(pids)
        log(f"{name}: deleted (stopped pids {stopped})")
    # processes of ours whose pid files are gone (state dir removed under a running lab, a crashed controller)
    strays = procs.lab_pids(lab.home)
    if strays:
        log(f"stopping processes of this lab without pid files: {strays}")
        ports.update(s["port"] for s in procs.listening(set(strays)))
        procs.stop(strays, lab.home)
        all_pids.update(strays)
    # sockets of a just-killed process can linger for a moment in ss output
    deadline = time.time() + 15
    while True:
        alive = sorted(p for p in all_pids if procs.owned_by(p, lab.home))
        left = [s for s in procs.listening() if s["port"] in ports]
        if (not alive and not left) or time.time() > deadline:
            break
        time.sleep(0.3)
    for f in (lab.kubeconfig, lab.state_file, lab.home / "kwokctl.yaml"):
        f.unlink(missing_ok=True)
    shutil.rmtree(lab.kwok_dir, ignore_errors=True)
    shutil.rmtree(lab.log_dir, ignore_errors=True)
    if alive or left:
        log(f"NOT clean: processes still alive {alive}; ports still listening {left}")
        return 1
    log(f"lab down: {len(names)} clusters deleted, network namespaces {namespaces or 'none'} removed, "
        f"no process left, ports {sorted(ports)} free ({time.time() - t0:.1f}s)")
    return 0


def run_as_operator(lab: Lab, command: list[str]) -> int:
    ns = (lab.state().get("mesh") or {}).get("operator_netns")
    if not ns:
        raise LabError("the lab runs without its mesh (no operator network namespace); run: tools/lab/lab up")
    if not command:
        raise LabError("usage: tools/lab/lab operator -- COMMAND [ARG...]")
    return subprocess.call(["ip", "netns", "exec", ns, *command])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/lab/lab", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build (cached) and start clusters cluster1..N (default 2)")
    up.add_argument("n", nargs="?", type=int, default=2)
    up.add_argument("--no-mesh", action="store_true", help="clusters only: no istiod, proxies, network")
    sub.add_parser("down", help="delete every cluster and stop every process of the lab")
    ck = sub.add_parser("check", help="per-cluster health, Istio CRDs, istiod, proxies, istioctl analyze")
    ck.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    ck.add_argument("--quick", action="store_true", help="skip istioctl analyze")
    sub.add_parser("env", help="print export KUBECONFIG=...")
    rq = sub.add_parser("request", help="HTTP requests from beside a pod's sidecar, and who answered")
    rq.add_argument("cluster")
    rq.add_argument("pod", help="NAMESPACE/POD-NAME-PREFIX, e.g. default/productpage")
    rq.add_argument("url", help="e.g. http://reviews:9080/reviews/1 (the host is the Host header)")
    rq.add_argument("--count", type=int, default=1)
    rq.add_argument("--method", default="GET")
    op = sub.add_parser("operator", help="run a command on the operator's machine: inside the lab's network, "
                                         "reaching the load balancer addresses and (forwarded) the API servers")
    op.add_argument("command", nargs=argparse.REMAINDER)
    ft = sub.add_parser("fault", help="a fault of one cluster: apiserver-kill (SIGKILL its kube-apiserver), "
                                      "apiserver-start (bring it back on the same ports and data); bare-up CLUSTER "
                                      "(a cluster without Istio, kubeconfig .lab/CLUSTER.kubeconfig), bare-down "
                                      "CLUSTER; or of its pods NAMESPACE/POD-PREFIX: app-stop (SIGSTOP the app), "
                                      "app-kill (SIGKILL it, left down), app-start (undo either), endpoint-refuse "
                                      "(connections to the pod's address refused), endpoint-restore")
    ft.add_argument("fault", choices=["apiserver-kill", "apiserver-start", "bare-up", "bare-down", "app-stop",
                                      "app-kill", "app-start", "endpoint-refuse", "endpoint-restore"])
    ft.add_argument("cluster")
    ft.add_argument("pod", nargs="?", help="NAMESPACE/POD-PREFIX (the pod faults): every pod whose name starts so")
    sub.add_parser("controller", help="(internal) the lab's background controller")
    app = sub.add_parser("app", help="(internal) a sample app's server")
    app.add_argument("kind")
    app.add_argument("--listen", required=True)
    app.add_argument("--pod", required=True)
    app.add_argument("--namespace", required=True)
    app.add_argument("--version", default="")
    args = ap.parse_args(argv)
    if args.cmd in ("check", "env", "request"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `lab check | head`
    lab = Lab()
    try:
        if args.cmd in ("up", "down"):
            # one up/down at a time per lab dir (concurrent test sessions, a second shell)
            lab.home.mkdir(parents=True, exist_ok=True)
            with open(lab.home / "lab.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                return cmd_up(lab, args.n, not args.no_mesh) if args.cmd == "up" else cmd_down(lab)
        if args.cmd == "check":
            return cmd_check(lab, args.json, args.quick)
        if args.cmd == "env":
            print(f"export KUBECONFIG={lab.kubeconfig}")
            return 0
        if args.cmd == "request":
            from labkit.request import cmd_request
            return cmd_request(lab, args.cluster, args.pod, args.url, args.count, args.method)
        if args.cmd == "operator":
            return run_as_operator(lab, args.command[1:] if args.command[:1] == ["--"] else args.command)
        if args.cmd == "fault":
            from labkit.faults import cmd_fault
            return cmd_fault(lab, args.fault, args.cluster, args.pod)
        if args.cmd == "controller":
            from labkit import controller
            return controller.run(lab)
        if args.cmd == "app":
            from labkit import apps
            host, dummy, port = args.listen.rpartition(":")
            apps.serve(args.kind, (host, int(port)), args.pod, args.namespace, args.version)
            return 0
    except LabError as e:
        log(f"ERROR: {e}")
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
