#!/usr/bin/env python
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab: N real local Kubernetes clusters (kwokctl, binary runtime) on 127.0.0.1.

    tools/lab/lab up [N]        build (cached) + create/reuse cluster1..N, Istio CRDs, one kubeconfig
    tools/lab/lab down          delete every cluster, stop every process by pid, check no port is left
    tools/lab/lab check [--json] [--quick]
                                version, nodes, Istio CRDs and `istioctl analyze` per cluster

Every binary is built from Go modules by build.sh (see docs/lab.md). State lives in
$MESHFED_LAB_DIR (default <repo>/.lab): kwok/ (kwokctl work dir: per cluster pki, etcd data, pids,
logs), kubeconfig (contexts cluster1..N), lab.json (bin dir, pids, ports), logs/.
Python 3.11, stdlib + PyYAML.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ISTIO_CRD_FILE = "kubernetes/customresourcedefinitions.gen.yaml"
ISTIO_GROUPS = (
    "networking.istio.io",
    "security.istio.io",
    "telemetry.istio.io",
    "extensions.istio.io",
)
# the CRDs the collection renders; `check` fails if one of them is missing
REQUIRED_CRDS = (
    "virtualservices.networking.istio.io",
    "destinationrules.networking.istio.io",
    "gateways.networking.istio.io",
    "serviceentries.networking.istio.io",
)
MESH_CONFIG = """\
rootNamespace: istio-system
trustDomain: cluster.local
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
"""
MESH_NETWORKS = "networks: {}\n"


def log(msg: str) -> None:
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class LabError(Exception):
    pass


class Lab:
    """Paths and helpers; everything is derived from MESHFED_LAB_DIR (default <repo>/.lab)."""

    def __init__(self, home: str | os.PathLike | None = None):
        self.home = Path(home or os.environ.get("MESHFED_LAB_DIR") or REPO / ".lab").resolve()
        self.kwok_dir = self.home / "kwok"
        self.kubeconfig = self.home / "kubeconfig"
        self.state_file = self.home / "lab.json"
        self.log_dir = self.home / "logs"

    # ---------------------------------------------------------------- state
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

    def existing_clusters(self) -> list[str]:
        d = self.kwok_dir / "clusters"
        names = [p.name for p in d.iterdir() if p.is_dir()] if d.is_dir() else []
        return sorted(names, key=_cluster_sort_key)

    # ---------------------------------------------------------------- tools
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

    def istioctl_analyze(self, context: str, timeout: float = 120) -> dict:
        """Run `istioctl analyze -A` on one context; returns {rc, messages, errors, warnings, stderr}."""
        bin_dir = self.bin_dir()
        cmd = [
            str(bin_dir / "istioctl"), "analyze", "-A", "--use-kube=true",
            "--kubeconfig", str(self.kubeconfig), "--context", context, "-o", "json",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        messages: list = []
        out = proc.stdout.strip()
        if out:
            try:
                messages = json.loads(out[out.index("["):]) if "[" in out else []
            except ValueError:
                messages = [{"level": "Error", "code": "LAB-PARSE", "message": out[:500]}]
        elif proc.returncode != 0:
            messages = [{"level": "Error", "code": "LAB-RUN", "message": proc.stderr.strip()[:500]}]
        levels = [m.get("level") for m in messages]
        return {
            "rc": proc.returncode,
            "messages": messages,
            "errors": levels.count("Error"),
            "warnings": levels.count("Warning"),
            "infos": levels.count("Info"),
            "stderr": proc.stderr.strip()[-1000:],
        }

    # ---------------------------------------------------------------- processes
    def cluster_pids(self, name: str) -> dict[str, int]:
        pids = {}
        d = self.cluster_dir(name) / "pids"
        if d.is_dir():
            for f in d.glob("*.pid"):
                try:
                    pids[f.stem] = int(f.read_text().strip())
                except ValueError:
                    pass
        return pids

    def owns(self, pid: int) -> bool:
        """True if pid is alive and is one of our processes (its command line names our kwok dir)."""
        try:
            status = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return False
        if status.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
        return str(self.kwok_dir) in cmdline

    def stray_pids(self) -> list[int]:
        """Live processes whose command line runs a binary of this lab's kwok dir."""
        prefix = str(self.kwok_dir / "clusters") + "/"
        res = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit() and int(d.name) != os.getpid():
                try:
                    argv0 = (d / "cmdline").read_bytes().split(b"\0", 1)[0].decode()
                except OSError:
                    continue
                if argv0.startswith(prefix) and self.owns(int(d.name)):
                    res.append(int(d.name))
        return sorted(res)

    def cluster_running(self, name: str) -> bool:
        pids = self.cluster_pids(name)
        if not pids or not all(self.owns(p) for p in pids.values()):
            return False
        kc = self.cluster_dir(name) / "kubeconfig.yaml"
        if not kc.is_file():
            return False
        proc = subprocess.run(
            [self.kubectl_path(), "--kubeconfig", str(kc), "get", "--raw", "/readyz"],
            capture_output=True, text=True, timeout=30, check=False)
        return proc.returncode == 0 and proc.stdout.strip() == "ok"


def _cluster_sort_key(name: str):
    m = re.match(r"([a-z-]*?)(\d+)$", name)
    return (m.group(1), int(m.group(2))) if m else (name, 0)


def listening(pids: set[int] | None = None) -> list[dict]:
    """Listening TCP sockets from `ss -ltnp`: [{addr, port, pid, process}] (pid None if unknown)."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=False).stdout
    res = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        local = parts[3]
        addr, dummy, port = local.rpartition(":")
        m = re.search(r'users:\(\("([^"]+)",pid=(\d+)', line)
        pid = int(m.group(2)) if m else None
        if pids is not None and pid not in pids:
            continue
        res.append({"addr": addr, "port": int(port), "pid": pid, "process": m.group(1) if m else None})
    return res


# -------------------------------------------------------------------- up
def kwok_config(lab: Lab) -> Path:
    conf = lab.home / "kwokctl.yaml"
    conf.write_text(yaml.safe_dump({
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {"bindAddress": "127.0.0.1", "runtime": "binary"},
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


def delete_cluster(lab: Lab, bin_dir: Path | None, name: str) -> list[int]:
    """kwokctl delete cluster, then make sure every pid of it is gone. Returns the pids stopped."""
    pids = [p for p in lab.cluster_pids(name).values() if lab.owns(p)]
    if bin_dir is not None and (bin_dir / "kwokctl").exists():
        lab.kwokctl(bin_dir, "--name", name, "delete", "cluster", check=False)
    for p in pids:  # kwokctl signals but does not wait
        if lab.owns(p):
            _kill(p, signal.SIGTERM)
    deadline = time.time() + 20
    while time.time() < deadline and any(lab.owns(p) for p in pids):
        time.sleep(0.2)
    for p in pids:
        if lab.owns(p):
            log(f"{name}: pid {p} ignored SIGTERM, sending SIGKILL")
            _kill(p, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and any(lab.owns(p) for p in pids):
        time.sleep(0.2)
    shutil.rmtree(lab.cluster_dir(name), ignore_errors=True)
    return pids


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def write_kubeconfig(lab: Lab, names: list[str]) -> None:
    """One kubeconfig, contexts named like the clusters, certificates embedded."""
    merged = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [],
              "contexts": [], "current-context": names[0] if names else ""}

    def b64(path: str) -> str:
        return base64.b64encode(Path(path).read_bytes()).decode()

    for name in names:
        src = yaml.safe_load((lab.cluster_dir(name) / "kubeconfig.yaml").read_text())
        c = src["clusters"][0]["cluster"]
        u = src["users"][0]["user"]
        merged["clusters"].append({"name": name, "cluster": {
            "server": c["server"], "certificate-authority-data": b64(c["certificate-authority"])}})
        merged["users"].append({"name": name, "user": {
            "client-certificate-data": b64(u["client-certificate"]),
            "client-key-data": b64(u["client-key"])}})
        merged["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    tmp = lab.kubeconfig.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(merged, sort_keys=False))
    os.chmod(tmp, 0o600)
    tmp.replace(lab.kubeconfig)


def cache_dir() -> Path:
    d = Path(os.environ.get("MESHFED_LAB_CACHE") or Path.home() / ".cache" / "meshfed-lab")
    d.mkdir(parents=True, exist_ok=True)
    return d


def istio_crd_file(bin_dir: Path) -> Path:
    """customresourcedefinitions.gen.yaml of the istio.io/api version istio.io/istio requires."""
    versions = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            versions[k.strip()] = v.strip()
    cache = cache_dir()
    env = dict(os.environ, GOMODCACHE=str(cache / "gomod"), GOFLAGS="-mod=mod", GOTOOLCHAIN="local",
               GONOSUMDB="*")

    def download(mod: str) -> dict:
        path, dummy, ver = mod.partition("@")
        d = cache / "gomod" / f"{path}@{ver}"  # already extracted: no need for go (nor the network)
        info = cache / "gomod" / "cache" / "download" / path / "@v" / f"{ver}.mod"
        if d.is_dir() and info.is_file():
            return {"Dir": str(d), "GoMod": str(info)}
        proc = subprocess.run(["go", "mod", "download", "-json", mod], capture_output=True,
                              text=True, env=env, cwd=str(cache) if cache.is_dir() else None, check=False)
        if proc.returncode != 0:
            raise LabError(f"go mod download {mod}: {proc.stderr.strip() or proc.stdout.strip()}")
        return json.loads(proc.stdout)

    istio = download(f"istio.io/istio@{versions['ISTIO_VERSION']}")
    gomod = Path(istio["GoMod"]).read_text()
    m = re.search(r"^\s*istio\.io/api\s+(\S+)", gomod, re.M)
    if not m:
        raise LabError(f"istio.io/api not required in {istio['GoMod']}")
    api = download(f"istio.io/api@{m.group(1)}")
    f = Path(api["Dir"]) / ISTIO_CRD_FILE
    if not f.is_file():
        raise LabError(f"{f} missing")
    return f


def injection_webhook() -> dict:
    """Istio's sidecar injector registration with the selectors of a default install, as istioctl
    analyze checks gateways (`image: auto`) against them. The lab runs no istiod behind it, so
    failurePolicy is Ignore: pods are created uninjected, which kwok does not mind."""
    service = {"name": "istiod", "namespace": "istio-system", "path": "/inject", "port": 443}

    def hook(name: str, namespace_selector: dict, object_selector: dict) -> dict:
        return {"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Ignore",
                "timeoutSeconds": 2, "reinvocationPolicy": "Never", "clientConfig": {"service": service},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "namespaceSelector": namespace_selector, "objectSelector": object_selector}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "istio-sidecar-injector", "labels": {"app": "sidecar-injector",
                                                                  "app.kubernetes.io/part-of": "meshfed-lab"}},
        "webhooks": [
            hook("namespace.sidecar-injector.istio.io",
                 {"matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]},
                 {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]}),
            hook("object.sidecar-injector.istio.io",
                 {"matchExpressions": [{"key": "istio-injection", "operator": "DoesNotExist"},
                                       {"key": "istio.io/rev", "operator": "DoesNotExist"}]},
                 {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]},
                                       {"key": "istio.io/rev", "operator": "DoesNotExist"}]}),
        ],
    }


def istio_base_objects() -> str:
    return yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        # the control plane Service the injector points at; no istiod runs behind it in the lab
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "istiod", "namespace": "istio-system", "labels": {"app": "istiod", "istio": "pilot"}},
         "spec": {"ports": [{"name": "https-webhook", "port": 443, "targetPort": 15017},
                            {"name": "grpc-xds", "port": 15010}, {"name": "https-dns", "port": 15012}]}},
        injection_webhook(),
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "istio", "namespace": "istio-system",
                      "labels": {"app.kubernetes.io/part-of": "meshfed-lab"}},
         "data": {"mesh": MESH_CONFIG, "meshNetworks": MESH_NETWORKS}},
    ])


def crd_names(crd_file: Path) -> list[str]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d["metadata"]["name"] for d in yaml.load_all(crd_file.read_text(), Loader=loader)
            if d and d.get("kind") == "CustomResourceDefinition"]


def established_crds(lab: Lab, name: str) -> set[str]:
    items = json.loads(lab.kubectl(name, "get", "crd", "-o", "json").stdout)["items"]
    return {c["metadata"]["name"] for c in items
            if any(x["type"] == "Established" and x["status"] == "True"
                   for x in (c.get("status") or {}).get("conditions") or [])}


def install_istio(lab: Lab, name: str, crd_file: Path, crds: list[str]) -> None:
    lab.kubectl(name, "apply", "--server-side", "--force-conflicts", "--field-manager=meshfed-lab",
                "-f", str(crd_file))
    deadline = time.time() + 120
    while True:
        missing = set(crds) - established_crds(lab, name)
        if not missing:
            break
        if time.time() > deadline:
            raise LabError(f"{name}: CRDs not Established after 120s: {sorted(missing)}")
        time.sleep(0.3)
    lab.kubectl(name, "apply", "--server-side", "--force-conflicts", "--field-manager=meshfed-lab",
                "-f", "-", input=istio_base_objects())


def ensure_node(lab: Lab, bin_dir: Path, name: str) -> None:
    out = lab.kubectl(name, "get", "nodes", "-o", "name").stdout.split()
    if not out:
        lab.kwokctl(bin_dir, "--name", name, "scale", "node", "--replicas", "1")
    lab.kubectl(name, "wait", "--for=condition=Ready", "--timeout=60s", "node", "--all")


def cmd_up(lab: Lab, n: int) -> int:
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
    conf = kwok_config(lab)
    names = [f"cluster{i}" for i in range(1, n + 1)]
    for extra in [c for c in lab.existing_clusters() if c not in names]:
        log(f"{extra}: not wanted (N={n}), deleting")
        delete_cluster(lab, bin_dir, extra)
    created = []
    for name in names:
        t = time.time()
        if lab.cluster_dir(name).is_dir():
            if not stale and lab.cluster_running(name):
                log(f"{name}: running, reused")
                continue
            log(f"{name}: present but {'built from other binaries' if stale else 'not healthy'}, recreating")
            delete_cluster(lab, bin_dir, name)
        # kwokctl picks free ports when it writes a cluster's config and binds them only when it starts
        # it: one creation at a time on this machine, whatever lab dir
        with open(cache_dir() / "create.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            create_cluster(lab, bin_dir, name, conf)
        created.append(name)
        log(f"{name}: created ({time.time() - t:.1f}s)")
    write_kubeconfig(lab, names)
    crd_file = istio_crd_file(bin_dir)
    crds = crd_names(crd_file)

    def setup(name: str) -> None:
        t = time.time()
        ensure_node(lab, bin_dir, name)
        install_istio(lab, name, crd_file, crds)
        log(f"{name}: node Ready, {len(crds)} Istio CRDs Established, istio-system/istio ConfigMap "
            f"({time.time() - t:.1f}s)")

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        for f in [pool.submit(setup, name) for name in names]:
            f.result()
    clusters = {}
    for name in names:
        pids = lab.cluster_pids(name)
        socks = listening(set(pids.values()))
        clusters[name] = {
            "dir": str(lab.cluster_dir(name)),
            "server": _server(lab, name),
            "pids": pids,
            "ports": sorted({s["port"] for s in socks}),
            "listen": sorted({f"{s['addr']}:{s['port']} {s['process']}" for s in socks}),
        }
    state.update({"clusters": clusters, "crd_file": str(crd_file), "istio_api_dir": str(crd_file.parent.parent),
                  "up_seconds": round(time.time() - t0, 1), "build_seconds": round(t_build, 1)})
    lab.save_state(state)
    bad = [s for c in clusters.values() for s in c["listen"] if not s.startswith("127.0.0.1:")]
    if bad:
        raise LabError(f"non-loopback listeners: {bad}")
    log(f"lab up: {n} clusters ({', '.join(names)}; created: {', '.join(created) or 'none'}) "
        f"in {time.time() - t0:.1f}s")
    print(f"export KUBECONFIG={lab.kubeconfig}")
    return 0


def _server(lab: Lab, name: str) -> str:
    try:
        src = yaml.safe_load((lab.cluster_dir(name) / "kubeconfig.yaml").read_text())
        return src["clusters"][0]["cluster"]["server"]
    except (OSError, KeyError, TypeError):
        return ""


# -------------------------------------------------------------------- down
def cmd_down(lab: Lab) -> int:
    t0 = time.time()
    state = lab.state()
    bin_dir = Path(state["bin_dir"]) if state.get("bin_dir") else None
    names = sorted(set(lab.existing_clusters()) | set(state.get("clusters", {})), key=_cluster_sort_key)
    all_pids: set[int] = set()
    ports: set[int] = set()
    for name in names:
        info = state.get("clusters", {}).get(name, {})
        ports.update(info.get("ports", []))
        pids = set(lab.cluster_pids(name).values()) | set(info.get("pids", {}).values())
        ports.update(s["port"] for s in listening({p for p in pids if lab.owns(p)}))
        stopped = delete_cluster(lab, bin_dir, name)
        all_pids.update(pids)
        log(f"{name}: deleted (stopped pids {sorted(stopped)})")
    # processes of ours whose pid files are gone (state dir removed under a running lab): found by the
    # lab's own kwok dir in their command line, stopped by pid
    strays = lab.stray_pids()
    if strays:
        log(f"stopping processes of this lab without pid files: {strays}")
        ports.update(s["port"] for s in listening(set(strays)))
        for p in strays:
            _kill(p, signal.SIGTERM)
        all_pids.update(strays)
        deadline = time.time() + 20
        while time.time() < deadline and any(lab.owns(p) for p in strays):
            time.sleep(0.2)
        for p in strays:
            if lab.owns(p):
                _kill(p, signal.SIGKILL)
    # sockets of a just-killed process can linger for a moment in ss output
    deadline = time.time() + 15
    while True:
        alive = sorted(p for p in all_pids if lab.owns(p))
        left = [s for s in listening() if s["port"] in ports]
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
    log(f"lab down: {len(names)} clusters deleted, no process left, ports {sorted(ports)} free "
        f"({time.time() - t0:.1f}s)")
    return 0


# -------------------------------------------------------------------- check
def check_cluster(lab: Lab, name: str, quick: bool) -> dict:
    res: dict = {"name": name, "up": False, "version": None, "nodes": 0, "ready_nodes": 0,
                 "istio_crds": [], "missing_crds": [], "server": _server(lab, name),
                 "ports": [], "analyze": None, "problems": []}
    pids = lab.cluster_pids(name)
    res["pids"] = pids
    res["ports"] = sorted({s["port"] for s in listening(set(pids.values()))})
    try:
        ver = json.loads(lab.kubectl(name, "get", "--raw", "/version", timeout=20).stdout)
        res["version"] = ver.get("gitVersion")
        res["up"] = True
    except (LabError, subprocess.TimeoutExpired, ValueError) as e:
        res["problems"].append(f"API server not reachable: {e}")
        return res
    nodes = json.loads(lab.kubectl(name, "get", "nodes", "-o", "json").stdout)["items"]
    res["nodes"] = len(nodes)
    res["ready_nodes"] = sum(
        1 for nd in nodes for c in (nd.get("status") or {}).get("conditions") or []
        if c["type"] == "Ready" and c["status"] == "True")
    if not res["ready_nodes"]:
        res["problems"].append("no Ready node")
    crds = json.loads(lab.kubectl(name, "get", "crd", "-o", "json").stdout)["items"]
    established = {
        c["metadata"]["name"] for c in crds
        if c["spec"]["group"] in ISTIO_GROUPS and any(
            x["type"] == "Established" and x["status"] == "True"
            for x in (c.get("status") or {}).get("conditions") or [])}
    res["istio_crds"] = sorted(established)
    res["missing_crds"] = [c for c in REQUIRED_CRDS if c not in established]
    if res["missing_crds"]:
        res["problems"].append(f"Istio CRDs missing: {res['missing_crds']}")
    if not quick:
        a = lab.istioctl_analyze(name)
        res["analyze"] = a
        if a["errors"]:
            res["problems"].append(f"istioctl analyze: {a['errors']} Error(s)")
    return res


def cmd_check(lab: Lab, as_json: bool, quick: bool) -> int:
    state = lab.state()
    names = sorted(set(state.get("clusters", {})) | set(lab.existing_clusters()), key=_cluster_sort_key)
    results = [check_cluster(lab, n, quick) for n in names] if state else []
    ok = bool(results) and all(r["up"] and not r["problems"] for r in results)
    summary = {"ok": ok, "kubeconfig": str(lab.kubeconfig), "home": str(lab.home),
               "bin_dir": state.get("bin_dir"), "kubectl": state.get("kubectl"),
               "contexts": names, "clusters": results}
    if not results:
        summary["problems"] = ["the lab is not up; run: tools/lab/lab up"]
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"kubeconfig: {lab.kubeconfig}")
        hdr = f"{'context':<10} {'up':<4} {'version':<9} {'nodes':<6} {'istio CRDs':<11} {'analyze':<22} server"
        print(hdr)
        print("-" * len(hdr))
        for r in results:
            a = r["analyze"]
            an = "skipped" if a is None else f"{a['errors']}E {a['warnings']}W {a['infos']}I"
            print(f"{r['name']:<10} {'yes' if r['up'] else 'NO':<4} {r['version'] or '-':<9} "
                  f"{r['ready_nodes']}/{r['nodes']:<4} {len(r['istio_crds']):<11} {an:<22} {r['server']}")
        for r in results:
            if r["istio_crds"]:
                print(f"{r['name']} Istio CRDs: {', '.join(c.split('.')[0] for c in r['istio_crds'])}")
            if r["analyze"]:
                for m in r["analyze"]["messages"]:
                    print(f"{r['name']} analyze {m.get('level')} {m.get('code')}: {m.get('origin', '')} "
                          f"{m.get('message', '')[:140]}")
            for p in r["problems"]:
                print(f"{r['name']} PROBLEM: {p}")
        for p in summary.get("problems", []):
            print(f"PROBLEM: {p}")
        print("OK" if ok else "NOT OK")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/lab/lab", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build (cached) and start clusters cluster1..N (default 2)")
    up.add_argument("n", nargs="?", type=int, default=2)
    sub.add_parser("down", help="delete every cluster and stop every process of the lab")
    ck = sub.add_parser("check", help="per-cluster health, Istio CRDs, istioctl analyze")
    ck.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    ck.add_argument("--quick", action="store_true", help="skip istioctl analyze")
    sub.add_parser("env", help="print export KUBECONFIG=...")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `lab check | head`
    lab = Lab()
    try:
        if args.cmd in ("up", "down"):
            # one up/down at a time per lab dir (concurrent test sessions, a second shell)
            lab.home.mkdir(parents=True, exist_ok=True)
            with open(lab.home / "lab.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                return cmd_up(lab, args.n) if args.cmd == "up" else cmd_down(lab)
        if args.cmd == "check":
            return cmd_check(lab, args.json, args.quick)
        if args.cmd == "env":
            print(f"export KUBECONFIG={lab.kubeconfig}")
            return 0
    except LabError as e:
        log(f"ERROR: {e}")
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
