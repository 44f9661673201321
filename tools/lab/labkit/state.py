# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab directory ($MESHFED_LAB_DIR, default <repo>/.lab): its state file, its binaries, kubectl and kwokctl."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from labkit.common import HERE, REPO, LabError, cluster_sort_key


class Lab:
    """Paths and helpers; everything is derived from MESHFED_LAB_DIR (default <repo>/.lab)."""

    def __init__(self, home: str | os.PathLike | None = None):
        self.home = Path(home or os.environ.get("MESHFED_LAB_DIR") or REPO / ".lab").resolve()
        self.kwok_dir = self.home / "kwok"
        self.mesh_dir = self.home / "mesh"
        self.kubeconfig = self.home / "kubeconfig"
        self.state_file = self.home / "lab.json"
        self.log_dir = self.home / "logs"
        # short and stable per lab directory: network namespace and interface names are built from it
        self.tag = "mf" + hashlib.sha256(str(self.home).encode()).hexdigest()[:4]

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def save_state(self, state: dict) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.state_file)

    def cluster_dir(self, name: str) -> Path:
        return self.kwok_dir / "clusters" / name

    def cluster_kubeconfig(self, name: str) -> Path:
        """kwokctl's single-context kubeconfig of one cluster (certificate files, not data)."""
        return self.cluster_dir(name) / "kubeconfig.yaml"

    def workloads_file(self, cluster: str) -> Path:
        """What runs in the cluster's mesh (the controller writes it): pod, address, admin port, bind address, pids."""
        return self.mesh_dir / cluster / "workloads.json"

    def workloads(self, cluster: str) -> list[dict]:
        """The cluster's entries of workloads_file, [] when its mesh runs nothing (or no mesh runs)."""
        try:
            return json.loads(self.workloads_file(cluster).read_text())["workloads"]
        except (OSError, ValueError, KeyError):
            return []

    def faults_file(self, cluster: str) -> Path:
        """The faults that hold on the cluster's pods ({namespace/pod: [fault, ...]}; `lab fault` writes it, the
        controller applies it)."""
        return self.mesh_dir / cluster / "faults.json"

    def faults(self, cluster: str) -> dict[str, list[str]]:
        try:
            return json.loads(self.faults_file(cluster).read_text())
        except (OSError, ValueError):
            return {}

    def existing_clusters(self) -> list[str]:
        d = self.kwok_dir / "clusters"
        names = [p.name for p in d.iterdir() if p.is_dir()] if d.is_dir() else []
        return sorted(names, key=cluster_sort_key)

    def env(self) -> dict:
        env = dict(os.environ)
        env["KWOK_WORKDIR"] = str(self.kwok_dir)
        return env

    def build(self) -> Path:
        """Run build.sh (progress on stderr) and return the bin dir it prints last."""
        proc = subprocess.run(
            [str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True, env=self.env(), check=False)
        if proc.returncode != 0:
            raise LabError(f"build.sh failed with exit code {proc.returncode}")
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
        if not lines:
            raise LabError("build.sh printed no bin directory")
        return Path(lines[-1].strip())

    def bin_dir(self) -> Path:
        b = self.state().get("bin_dir")
        if not b:
            raise LabError(f"the lab is not up (no {self.state_file}); run: tools/lab/lab up")
        return Path(b)

    def kubectl_path(self, bin_dir: Path | None = None) -> str:
        if os.environ.get("MESHFED_LAB_KUBECTL"):
            return os.environ["MESHFED_LAB_KUBECTL"]
        if bin_dir is None:
            k = self.state().get("kubectl")
            if k:
                return k
            bin_dir = Path(self.state().get("bin_dir", "/nonexistent"))
        if (bin_dir / "kubectl").is_file():
            return str(bin_dir / "kubectl")
        return shutil.which("kubectl") or "/usr/bin/kubectl"

    def kwokctl(self, bin_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(bin_dir / "kwokctl"), *args]
        with open(self.log_dir / "kwokctl.log", "a") as out:
            out.write(f"\n$ KWOK_WORKDIR={self.kwok_dir} {' '.join(cmd)}\n")
            out.flush()
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env(), check=False)
        if check and proc.returncode != 0:
            tail = (self.log_dir / "kwokctl.log").read_text().splitlines()[-15:]
            raise LabError(f"kwokctl {' '.join(args)} failed ({proc.returncode}):\n" + "\n".join(tail))
        return proc

    def kubectl(self, context: str, *args: str, input: str | None = None, timeout: float = 120,
                check: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.kubectl_path(), "--kubeconfig", str(self.kubeconfig), "--context", context, *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise LabError(f"{' '.join(cmd)}: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc
