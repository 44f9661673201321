# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's mesh as a whole: per cluster a network namespace and an istiod, and the controller process that
runs the pods' proxies and the load balancer addresses. ``up`` reuses what is healthy, ``down`` removes all."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from labkit import istiod, netns, procs
from labkit.common import HERE, LabError, log
from labkit.state import Lab


def code_version() -> str:
    """A digest of the lab's code: a controller started from other code is restarted."""
    digest = hashlib.sha256()
    for f in sorted(HERE.glob("lab*.py")) + sorted((HERE / "labkit").glob("*.py")):
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def controller_alive(lab: Lab, mesh: dict) -> bool:
    pid = mesh.get("controller_pid")
    return bool(pid) and procs.owned_by(pid, lab.home) and mesh.get("code") == code_version()


# every pilot-agent and Envoy watches files: a few labs of proxies pass the kernel's default of 128 inotify
# instances per user, and a proxy then dies with "too many open files" (kind documents the same limit)
INOTIFY_LIMITS = {"/proc/sys/fs/inotify/max_user_instances": 1024, "/proc/sys/fs/inotify/max_user_watches": 524288}


def raise_inotify_limits() -> None:
    for path, wanted in INOTIFY_LIMITS.items():
        try:
            current = int(Path(path).read_text())
            if current < wanted:
                Path(path).write_text(str(wanted))
                log(f"raised {path.rsplit('/', 1)[-1]} from {current} to {wanted} (machine-wide; see docs/lab.md)")
        except (OSError, ValueError) as e:
            log(f"could not raise {path}: {e}; proxies may fail with 'too many open files'")


def up(lab: Lab, bin_dir: Path, names: list[str], recreated: list[str]) -> dict:
    """Bring the mesh to clusters ``names``; returns the state's ``mesh`` entry."""
    t0 = time.time()
    raise_inotify_limits()
    state = lab.state()
    mesh = state.get("mesh") or {}
    old = mesh.get("clusters", {})
    for name in names:
        netns.ensure_cluster(lab.tag, name)
    operator = netns.ensure_operator(lab.tag)
    for gone in set(old) - set(names):
        procs.stop([old[gone]["istiod"]["pid"]], lab.home)
        netns.ip("netns", "del", old[gone]["netns"], check=False)

    def ensure_istiod(name: str) -> tuple[dict, bool]:
        info = old.get(name, {}).get("istiod")
        if info and name not in recreated and procs.owned_by(info["pid"], lab.home) and istiod.healthy(info):
            return info, False
        if info:
            procs.stop([info["pid"]], lab.home)
        return istiod.start_ready(lab, bin_dir, name), True

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        started = dict(zip(names, pool.map(ensure_istiod, names)))
    clusters = {name: {"netns": netns.cluster_netns(lab.tag, name), "istiod": started[name][0],
                       "address": netns.cluster_address(name)} for name in names}
    restarted = [n for n in names if started[n][1]]
    for name in restarted:
        log(f"{name}: istiod ready (pid {started[name][0]['pid']}, xDS 127.0.0.1:{started[name][0]['ports']['secure_grpc']})")
    same = set(old) == set(names) and not restarted
    if same and controller_alive(lab, mesh):
        log("mesh: istiod and controller running, reused")
        return dict(mesh, clusters=clusters, operator_netns=operator)
    if mesh.get("controller_pid"):
        procs.stop([mesh["controller_pid"]], lab.home)
    mesh = {"clusters": clusters, "operator_netns": operator}
    state["mesh"] = mesh
    lab.save_state(state)
    ready = lab.mesh_dir / "controller.ready"
    ready.unlink(missing_ok=True)
    proc = procs.spawn([sys.executable, str(HERE / "lab.py"), "controller"], lab.log_dir / "controller.log",
                       dict(os.environ, MESHFED_LAB_DIR=str(lab.home)), lab.home)
    deadline = time.time() + 30
    while not ready.exists():
        if proc.poll() is not None or time.time() > deadline:
            tail = (lab.log_dir / "controller.log").read_text(errors="replace").splitlines()[-20:]
            raise LabError("the lab controller did not start:\n" + "\n".join(tail))
        time.sleep(0.2)
    mesh.update(controller_pid=proc.pid, code=code_version())
    log(f"mesh: {len(names)} istiod ({len(restarted)} started), controller pid {proc.pid} ({time.time() - t0:.1f}s)")
    return mesh


def down(lab: Lab) -> list[str]:
    """Stop the controller (it stops the proxies), every istiod, every other process of the lab's mesh, and
    delete the network namespaces; returns what was removed."""
    mesh = lab.state().get("mesh") or {}
    if mesh.get("controller_pid"):
        procs.stop([mesh["controller_pid"]], lab.home, grace=30)
    procs.stop([c["istiod"]["pid"] for c in mesh.get("clusters", {}).values()], lab.home)
    gone = netns.remove(lab.tag)
    shutil.rmtree(lab.mesh_dir, ignore_errors=True)
    return gone
