# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One istiod (pilot-discovery) per lab cluster, outside the cluster, reading that cluster's API server.

Each istiod makes its own self-signed CA (Secret istio-system/istio-ca-secret): the meshes are independent,
as in the seed. Upstream Envoy has no istio.* extensions, so istiod is told not to send them.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from labkit import clusters, procs
from labkit.common import LabError, free_port, log
from labkit.istio_base import MESH_NETWORKS, mesh_config
from labkit.kubeapi import Api, ApiError
from labkit.state import Lab

ENV = {
    "POD_NAMESPACE": "istio-system",
    "PILOT_ENABLE_METADATA_EXCHANGE": "false",
    "PILOT_ENABLE_ALPN_FILTER": "false",
    "INJECT_ENABLED": "false",
    "VALIDATION_WEBHOOK_CONFIG_NAME": "",
    "INJECTION_WEBHOOK_CONFIG_NAME": "",
    "PILOT_ENABLE_GATEWAY_API": "false",
    "PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER": "false",
    "ENABLE_NATIVE_SIDECARS": "false",
}
PORTS = ("grpc", "secure_grpc", "http", "https", "monitoring", "ctrlz")


def workdir(lab: Lab, cluster: str) -> Path:
    return lab.mesh_dir / cluster / "istiod"


def start(lab: Lab, bin_dir: Path, cluster: str) -> dict:
    """Start the cluster's istiod; returns {pid, ports}."""
    d = workdir(lab, cluster)
    d.mkdir(parents=True, exist_ok=True)
    (d / "mesh.yaml").write_text(yaml.safe_dump(mesh_config(), sort_keys=False))
    (d / "networks.yaml").write_text(MESH_NETWORKS)
    ports = {p: free_port() for p in PORTS}
    cmd = [
        str(bin_dir / "pilot-discovery"), "discovery",
        f"--kubeconfig={lab.cluster_kubeconfig(cluster)}",
        f"--meshConfig={d / 'mesh.yaml'}", f"--networksConfig={d / 'networks.yaml'}",
        f"--grpcAddr=127.0.0.1:{ports['grpc']}", f"--secureGRPCAddr=127.0.0.1:{ports['secure_grpc']}",
        f"--httpAddr=127.0.0.1:{ports['http']}", f"--httpsAddr=127.0.0.1:{ports['https']}",
        f"--monitoringAddr=127.0.0.1:{ports['monitoring']}",
        f"--ctrlz_port={ports['ctrlz']}", "--ctrlz_address=127.0.0.1",
        "--log_output_level=default:info",
    ]
    env = dict(ENV, POD_NAME=f"istiod-{cluster}", CLUSTER_ID=cluster, PATH="/usr/bin:/bin",
               HOME=str(d))
    proc = procs.spawn(cmd, lab.log_dir / f"istiod-{cluster}.log", env, lab.home, cwd=d)
    return {"pid": proc.pid, "ports": ports}


def start_ready(lab: Lab, bin_dir: Path, cluster: str, attempts: int = 3) -> dict:
    """Start istiod and wait until it is ready; again on new ports if another process took one first."""
    for attempt in range(1, attempts + 1):
        info = start(lab, bin_dir, cluster)
        try:
            wait_ready(lab, cluster, info)
            return info
        except LabError as e:
            if "address already in use" not in str(e) or attempt == attempts:
                raise
            log(f"{cluster}: istiod found a port taken ({e.args[0].splitlines()[-1][-80:]}); new ports")
    raise AssertionError("unreachable")


def healthy(info: dict) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{info['ports']['http']}/ready", timeout=3) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def wait_ready(lab: Lab, cluster: str, info: dict, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not healthy(info):
        if not procs.alive(info["pid"]):
            tail = (lab.log_dir / f"istiod-{cluster}.log").read_text(errors="replace").splitlines()[-20:]
            raise LabError(f"{cluster}: istiod exited:\n" + "\n".join(tail))
        if time.time() > deadline:
            raise LabError(f"{cluster}: istiod not ready after {timeout:.0f}s (log: {lab.log_dir}/istiod-{cluster}.log)")
        time.sleep(0.5)


def root_certificate(lab: Lab, cluster: str) -> str:
    """The PEM of the cluster's mesh CA, from the Secret istiod keeps it in."""
    api = Api(clusters.credentials(lab, cluster))
    try:
        secret = api.get("/api/v1/namespaces/istio-system/secrets/istio-ca-secret")
    except ApiError as e:
        raise LabError(f"{cluster}: istio-ca-secret not readable yet: {e}") from e
    return base64.b64decode(secret["data"]["ca-cert.pem"]).decode()


def debug(info: dict, path: str, timeout: float = 10):
    """GET one of istiod's debug endpoints (/debug/syncz, /debug/config_dump?proxyID=...) as JSON."""
    with urllib.request.urlopen(f"http://127.0.0.1:{info['ports']['http']}{path}", timeout=timeout) as resp:
        return json.loads(resp.read().decode())
