# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every lab cluster gets of Istio before istiod runs: the real CRDs, istio-system, the mesh config and the
sidecar injector's registration."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import yaml

from labkit.common import LabError, cache_dir, versions
from labkit.state import Lab

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
    "authorizationpolicies.security.istio.io",
    "envoyfilters.networking.istio.io",
)
# every proxy reaches its cluster's istiod here, inside the cluster's network namespace (netns forwards it)
DISCOVERY_ADDRESS = "127.0.0.1:15012"
# namespaces istiod leaves alone (it writes its root certificate ConfigMap into every namespace it selects)
UNSERVED_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
MESH_OFF_LABEL = "lab.meshfed.io/mesh"


def mesh_config() -> dict:
    """The mesh config of every lab istiod: upstream Envoy has no istio.* extensions, so no metrics provider
    (istio.stats) and no Prometheus merge."""
    return {
        "rootNamespace": "istio-system",
        "trustDomain": "cluster.local",
        "enablePrometheusMerge": False,
        "defaultProviders": {"metrics": []},
        "defaultConfig": {"discoveryAddress": DISCOVERY_ADDRESS, "holdApplicationUntilProxyStarts": False},
        "discoverySelectors": [{"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": list(UNSERVED_NAMESPACES)},
            {"key": MESH_OFF_LABEL, "operator": "NotIn", "values": ["off"]},
        ]}],
    }


MESH_NETWORKS = "networks: {}\n"


def istio_crd_file() -> Path:
    """customresourcedefinitions.gen.yaml of the istio.io/api version istio.io/istio requires."""
    return istio_sources()[1]


def istio_version(istio_dir: Path) -> str:
    """The version the lab's istiod is built from, as its source names it (VERSION: "1.31"), with the "-dev" its
    Makefile appends when no release version is given."""
    return (istio_dir / "VERSION").read_text().strip() + "-dev"


def istio_sources() -> tuple[Path, Path]:
    """The istio.io/istio module's directory, and the CRD file of the istio.io/api version it requires."""
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

    istio = download(f"istio.io/istio@{versions()['ISTIO_VERSION']}")
    gomod = Path(istio["GoMod"]).read_text()
    m = re.search(r"^\s*istio\.io/api\s+(\S+)", gomod, re.M)
    if not m:
        raise LabError(f"istio.io/api not required in {istio['GoMod']}")
    api = download(f"istio.io/api@{m.group(1)}")
    f = Path(api["Dir"]) / ISTIO_CRD_FILE
    if not f.is_file():
        raise LabError(f"{f} missing")
    return Path(istio["Dir"]), f


def injection_webhook() -> dict:
    """Istio's sidecar injector registration with the selectors of a default install, as istioctl
    analyze checks gateways (`image: auto`) against them. The lab's istiod does not inject (its proxies are
    processes, see proxies.py), so failurePolicy is Ignore: pods are created uninjected, which kwok does not mind."""
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


def istiod_deployment(version: str) -> dict:
    """istiod's Deployment with the labels and image of Istio's istiod chart (manifests/charts/istio-control/
    istio-discovery), which say its version (meshfed reads them: module_utils/model/istio_version.py). No replicas: the
    lab's istiod is the process beside the cluster (mesh.py), not a pod."""
    labels = {"app": "istiod", "istio": "pilot"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "istiod", "namespace": "istio-system",
                         "labels": dict(labels, **{"istio.io/rev": "default", "app.kubernetes.io/name": "istiod",
                                                   "app.kubernetes.io/part-of": "istio",
                                                   "app.kubernetes.io/version": version})},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "discovery", "image": f"docker.io/istio/pilot:{version}"}]}}}}


def istio_base_objects(version: str) -> str:
    return yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        # the control plane Service the injector points at; the lab's istiod runs outside the cluster
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "istiod", "namespace": "istio-system", "labels": {"app": "istiod", "istio": "pilot"}},
         "spec": {"ports": [{"name": "https-webhook", "port": 443, "targetPort": 15017},
                            {"name": "grpc-xds", "port": 15010}, {"name": "https-dns", "port": 15012}]}},
        injection_webhook(),
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "istio", "namespace": "istio-system",
                      "labels": {"app.kubernetes.io/part-of": "meshfed-lab"}},
         "data": {"mesh": yaml.safe_dump(mesh_config(), sort_keys=False), "meshNetworks": MESH_NETWORKS}},
        istiod_deployment(version),
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


def install_istio(lab: Lab, name: str, crd_file: Path, crds: list[str], version: str) -> None:
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
                "-f", "-", input=istio_base_objects(version))
