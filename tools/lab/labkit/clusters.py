# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kwok clusters of a lab: create, delete, health, their node, one kubeconfig for all of them."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from labkit import procs
from labkit.state import Lab

# the ranges of a default cluster (kubeadm, kind): kube-apiserver's own default is a /24, full at ~250 Services
SERVICE_CIDR = "10.96.0.0/12"
POD_CIDR = "10.244.0.0/16"
MAX_PODS = 5000


def kwok_config(lab: Lab) -> Path:
    conf = lab.home / "kwokctl.yaml"
    service_range = [{"key": "service-cluster-ip-range", "value": SERVICE_CIDR}]
    conf.write_text(yaml.safe_dump({
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {"bindAddress": "127.0.0.1", "runtime": "binary"},
        "componentsPatches": [
            {"name": "kube-apiserver", "extraArgs": service_range},
            {"name": "kube-controller-manager", "extraArgs": service_range},
        ],
    }))
    return conf


def create_cluster(lab: Lab, bin_dir: Path, name: str, conf: Path) -> None:
    lab.kwokctl(
        bin_dir, "-c", str(conf), "--name", name, "create", "cluster",
        "--runtime", "binary",
        "--kube-apiserver-binary", str(bin_dir / "kube-apiserver"),
        "--kube-controller-manager-binary", str(bin_dir / "kube-controller-manager"),
        "--kube-scheduler-binary", str(bin_dir / "kube-scheduler"),
        "--etcd-binary", str(bin_dir / "etcd"),
        "--kwok-controller-binary", str(bin_dir / "kwok"),
        "--kubeconfig", "",
        "--wait", "2m",
    )


def cluster_pids(lab: Lab, name: str) -> dict[str, int]:
    pids = {}
    d = lab.cluster_dir(name) / "pids"
    if d.is_dir():
        for f in d.glob("*.pid"):
            try:
                pids[f.stem] = int(f.read_text().strip())
            except ValueError:
                pass
    return pids


def cluster_info(lab: Lab, name: str) -> dict:
    """What lab.json records of a running cluster: its processes and what they listen on."""
    pids = cluster_pids(lab, name)
    socks = procs.listening(set(pids.values()))
    return {
        "dir": str(lab.cluster_dir(name)),
        "server": server(lab, name),
        "pids": pids,
        "ports": sorted({s["port"] for s in socks}),
        "listen": sorted({f"{s['addr']}:{s['port']} {s['process']}" for s in socks}),
    }


def delete_cluster(lab: Lab, bin_dir: Path | None, name: str) -> list[int]:
    """kwokctl delete cluster, then make sure every pid of it is gone. Returns the pids stopped."""
    pids = [p for p in cluster_pids(lab, name).values() if procs.owned_by(p, lab.home)]
    if bin_dir is not None and (bin_dir / "kwokctl").exists():
        lab.kwokctl(bin_dir, "--name", name, "delete", "cluster", check=False)
    procs.stop(pids, lab.home)  # kwokctl signals but does not wait
    shutil.rmtree(lab.cluster_dir(name), ignore_errors=True)
    return sorted(pids)


def cluster_running(lab: Lab, name: str) -> bool:
    pids = cluster_pids(lab, name)
    if not pids or not all(procs.owned_by(p, lab.home) for p in pids.values()):
        return False
    kc = lab.cluster_kubeconfig(name)
    if not kc.is_file():
        return False
    proc = subprocess.run(
        [lab.kubectl_path(), "--kubeconfig", str(kc), "get", "--raw", "/readyz"],
        capture_output=True, text=True, timeout=30, check=False)
    return proc.returncode == 0 and proc.stdout.strip() == "ok"


def ensure_node(lab: Lab, bin_dir: Path, name: str) -> None:
    out = lab.kubectl(name, "get", "nodes", "-o", "name").stdout.split()
    if not out:
        # kwok gives pods addresses from the node's podCIDR (kwokctl's template: a /24, 110 pods)
        lab.kwokctl(bin_dir, "--name", name, "scale", "node", "--replicas", "1",
                    "--param", f'.podCIDRs=["{POD_CIDR}"]', "--param", f".allocatable.pods={MAX_PODS}")
    lab.kubectl(name, "wait", "--for=condition=Ready", "--timeout=60s", "node", "--all")


def write_kubeconfig(lab: Lab, names: list[str], path: Path | None = None) -> None:
    """One kubeconfig (the lab's, or ``path``), contexts named like the clusters, certificates embedded."""
    path = path or lab.kubeconfig
    merged = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [],
              "contexts": [], "current-context": names[0] if names else ""}

    def b64(path: str) -> str:
        return base64.b64encode(Path(path).read_bytes()).decode()

    for name in names:
        src = yaml.safe_load(lab.cluster_kubeconfig(name).read_text())
        c = src["clusters"][0]["cluster"]
        u = src["users"][0]["user"]
        merged["clusters"].append({"name": name, "cluster": {
            "server": c["server"], "certificate-authority-data": b64(c["certificate-authority"])}})
        merged["users"].append({"name": name, "user": {
            "client-certificate-data": b64(u["client-certificate"]),
            "client-key-data": b64(u["client-key"])}})
        merged["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(merged, sort_keys=False))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def server(lab: Lab, name: str) -> str:
    try:
        src = yaml.safe_load(lab.cluster_kubeconfig(name).read_text())
        return src["clusters"][0]["cluster"]["server"]
    except (OSError, KeyError, TypeError):
        return ""


def credentials(lab: Lab, name: str) -> dict:
    """{server, ca, cert, key}: the cluster's API address and the file paths of its admin credentials."""
    src = yaml.safe_load(lab.cluster_kubeconfig(name).read_text())
    c = src["clusters"][0]["cluster"]
    u = src["users"][0]["user"]
    return {"server": c["server"], "ca": c["certificate-authority"], "cert": u["client-certificate"],
            "key": u["client-key"]}
