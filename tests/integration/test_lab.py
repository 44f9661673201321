# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab itself (tools/lab, docs/lab.md): real API servers on loopback, fake kwok nodes that run Pods to Ready,
the real Istio CRD schemas, istioctl analyze, and a down/up cycle that leaves no process or port behind."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import subprocess
import time
import uuid

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.lab

N = int(os.environ.get("MESHFED_LAB_CLUSTERS", "3"))
CONTEXTS = ["cluster%d" % i for i in range(1, N + 1)]


def versions_env():
    with open(os.path.join(REPO, "tools", "lab", "versions.env")) as f:
        return dict(line.strip().split("=", 1) for line in f if "=" in line and not line.startswith("#"))


def listening():
    """{port: (address, pid or None)} of every listening TCP socket (ss -ltnp)."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    socks = {}
    for line in out.splitlines():
        parts = line.split()
        addr, dummy, port = parts[3].rpartition(":")
        m = re.search(r"pid=(\d+)", line)
        socks[int(port)] = (addr, int(m.group(1)) if m else None)
    return socks


def network_namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def owned_processes(lab_dir):
    """Live processes carrying the lab's owner mark (every process of its mesh)."""
    mark = ("MESHFED_LAB_OWNER=%s" % os.path.realpath(str(lab_dir))).encode()
    found = []
    for pid in [int(d) for d in os.listdir("/proc") if d.isdigit()]:
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                if mark in f.read().split(b"\0") and alive(pid):
                    found.append(pid)
        except (IOError, OSError):
            pass
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (IOError, OSError):
        return False


@pytest.fixture
def namespace(lab):
    name = "lab-test-%s" % uuid.uuid4().hex[:8]
    for context in lab.contexts:
        lab.kubectl(context, "create", "namespace", name)
    yield name
    for context in lab.contexts:
        lab.kubectl(context, "delete", "namespace", name, "--wait=false", "--ignore-not-found")


def test_every_cluster_is_the_pinned_kubernetes_with_a_ready_node(lab):
    assert lab.contexts == CONTEXTS
    want = versions_env()["KUBERNETES_VERSION"]
    for context in lab.contexts:
        version = json.loads(lab.kubectl(context, "get", "--raw", "/version"))
        assert version["gitVersion"] == want, (context, version)
        nodes = json.loads(lab.kubectl(context, "get", "nodes", "-o", "json"))["items"]
        ready = [n["metadata"]["name"] for n in nodes
                 if {"type": "Ready", "status": "True"}.items() <= {
                     (k, c[k]) for c in n["status"]["conditions"] if c["type"] == "Ready" for k in ("type", "status")}]
        assert ready, (context, nodes)


def test_servers_listen_on_loopback_only(lab):
    socks = listening()
    with open(os.path.join(lab.dir, "lab.json")) as f:  # now: a fault test may have restarted a cluster
        clusters = json.load(f)["clusters"]
    for name, cluster in clusters.items():
        pids = set(cluster["pids"].values())
        mine = {port: addr for port, (addr, pid) in socks.items() if pid in pids}
        assert mine, (name, "no listening socket found for pids", pids)
        assert set(mine.values()) == {"127.0.0.1"}, (name, mine)
        assert cluster["server"].startswith("https://127.0.0.1:"), cluster["server"]


def test_deployment_with_two_replicas_becomes_ready_on_every_cluster(lab, namespace):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1",
                                                       "ports": [{"containerPort": 8080}]}]}}},
    }
    for context in lab.contexts:
        lab.kubectl(context, "apply", "-f", "-", input=yaml.safe_dump(deployment))
    for context in lab.contexts:
        lab.kubectl(context, "rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")
        status = json.loads(lab.kubectl(context, "get", "deployment", "web", "-n", namespace, "-o", "json"))["status"]
        assert status.get("readyReplicas") == 2 and status.get("availableReplicas") == 2, (context, status)
        pods = json.loads(lab.kubectl(context, "get", "pods", "-n", namespace, "-l", "app=web", "-o", "json"))["items"]
        assert len(pods) == 2
        for pod in pods:
            ready = [c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready"]
            assert ready == ["True"] and pod["spec"]["nodeName"], (context, pod["status"])


def test_a_cluster_holds_more_services_than_a_slash_24_has_addresses(lab, namespace):
    """kube-apiserver's default Service range is a /24 (full at ~250 Services: "failed to allocate a serviceIP ...
    range is full"); the lab's clusters have a default cluster's 10.96.0.0/12."""
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-%03d" % i, "namespace": namespace},
                 "spec": {"ports": [{"port": 8080, "name": "http"}]}} for i in range(300)]
    lab.kubectl("cluster1", "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": services}),
                timeout=300)
    items = json.loads(lab.kubectl("cluster1", "get", "services", "-n", namespace, "-o", "json"))["items"]
    ips = {s["spec"]["clusterIP"] for s in items}
    assert len(items) == 300 and len(ips) == 300
    assert all(ip.startswith("10.") and 96 <= int(ip.split(".")[1]) <= 111 for ip in ips), sorted(ips)[:5]


def test_istio_crd_schema_rejects_a_wrong_field_type(lab, namespace):
    bad = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
           "metadata": {"name": "bad", "namespace": namespace}, "spec": {"hosts": 5}}
    good = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "good", "namespace": namespace},
            "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}
    for context in lab.contexts:
        with pytest.raises(lab.Error) as err:
            lab.kubectl(context, "apply", "-f", "-", input=yaml.safe_dump(bad))
        assert 'The VirtualService "bad" is invalid' in err.value.stderr, err.value.stderr
        assert "spec.hosts" in err.value.stderr and "must be of type array" in err.value.stderr, err.value.stderr
        # the same kind with the right types is accepted (server-side dry run: validated, not stored, so
        # istioctl analyze never sees its unknown host): the schema, not a missing CRD, refused the other one
        out = lab.kubectl(context, "apply", "--dry-run=server", "-o", "json", "-f", "-", input=yaml.safe_dump(good))
        assert json.loads(out)["spec"]["hosts"] == ["reviews"]


def test_istio_crds_and_mesh_config_are_installed(lab):
    with open(lab.state["crd_file"]) as f:
        want = sorted(d["metadata"]["name"] for d in yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
                      if d and d.get("kind") == "CustomResourceDefinition")
    assert "virtualservices.networking.istio.io" in want and len(want) >= 10
    for context in lab.contexts:
        crds = json.loads(lab.kubectl(context, "get", "crd", "-o", "json"))["items"]
        established = sorted(c["metadata"]["name"] for c in crds
                             if c["spec"]["group"].endswith("istio.io") and any(
                                 x["type"] == "Established" and x["status"] == "True" for x in c["status"]["conditions"]))
        assert established == want, context
        mesh = json.loads(lab.kubectl(context, "get", "configmap", "istio", "-n", "istio-system", "-o", "json"))["data"]
        assert yaml.safe_load(mesh["mesh"])["rootNamespace"] == "istio-system"
        assert "networks" in yaml.safe_load(mesh["meshNetworks"])


LAB_NAMESPACES = ("default", "istio-system", "kube-system", "kube-public", "kube-node-lease")


def from_the_lab(message):
    """True if an analyze message is about an object of the lab itself, not one another test module created
    in the shared session lab (origin is 'Kind namespace/name' or 'Kind name' for cluster-scoped objects)."""
    ref = message.get("origin", "").split(" ", 1)[-1]
    namespace = ref.split("/", 1)[0] if "/" in ref else ref if message.get("origin", "").startswith("Namespace ") else ""
    return namespace in LAB_NAMESPACES or namespace.startswith("lab-test-") or namespace == ""


def test_istioctl_analyze_reports_no_error_on_every_context(lab):
    """On the session's lab other test modules may have left objects of their own (their analyze findings are
    theirs to assert); the fresh lab of test_down_then_up... gets the strict check (no Error at all)."""
    for context in lab.contexts:
        messages = lab.istioctl_analyze(context)
        assert isinstance(messages, list) and messages, (context, messages)  # IST0102 Info on `default` at least
        assert not [m for m in messages if m.get("level") == "Error" and from_the_lab(m)], (context, messages)


def settled_check(lab, timeout=60):
    """``lab check --json --quick`` until it says ok, at most ``timeout`` seconds: a proxy that the previous test
    started may still be waiting for its first configuration (STALE). (run, summary) of the last check."""
    deadline = time.time() + timeout
    while True:
        done = lab.run_lab(["check", "--json", "--quick"], timeout=600, check=False)
        summary = json.loads(done.stdout)
        if (done.returncode == 0 and summary["ok"]) or time.time() > deadline:
            return done, summary
        time.sleep(5)


def test_check_summarizes_every_cluster(lab):
    done, summary = settled_check(lab)
    assert done.returncode == 0 and summary["ok"], done.stdout[-3000:] + done.stderr[-2000:]
    by_name = {c["name"]: c for c in summary["clusters"]}
    for context in lab.contexts:
        c = by_name[context]
        assert c["up"] and c["version"] == versions_env()["KUBERNETES_VERSION"] and c["ready_nodes"] >= 1
        assert "virtualservices.networking.istio.io" in c["istio_crds"] and c["analyze"] is None


def cluster_pids(clusters):
    return {p for c in clusters.values() for p in c["pids"].values()}


def cluster_ports(clusters):
    return {p for c in clusters.values() for p in c["ports"]}


@pytest.mark.slow
def test_down_then_up_leaves_no_process_or_port_behind(lab, tmp_path):
    """A second, separate lab (its own MESHFED_LAB_DIR; the session's lab is untouched): up 3, strict check
    (istioctl analyze: no Error at all), down, up 2, down; nothing of a torn-down cluster may remain."""
    other = tmp_path / "lab"
    try:
        lab.run_lab(["up", "3"], lab_dir=other)
        done = lab.run_lab(["check", "--json"], lab_dir=other, check=False)
        summary = json.loads(done.stdout)
        assert done.returncode == 0 and summary["ok"] and summary["contexts"] == ["cluster1", "cluster2", "cluster3"], done.stdout
        for c in summary["clusters"]:
            assert c["analyze"]["errors"] == 0 and c["analyze"]["rc"] == 0, c["analyze"]
        with open(str(other / "lab.json")) as f:
            state = json.load(f)
        first = state["clusters"]
        first_pids, first_ports = cluster_pids(first), cluster_ports(first)
        assert len(first_pids) == 15 and all(alive(p) for p in first_pids)
        assert len(first_ports) >= 15 and first_ports <= set(listening())
        mesh_pids = [c["istiod"]["pid"] for c in state["mesh"]["clusters"].values()] + [state["mesh"]["controller_pid"]]
        namespaces = {c["netns"] for c in state["mesh"]["clusters"].values()}
        assert len(mesh_pids) == 4 and all(alive(p) for p in mesh_pids)
        assert len(namespaces) == 3 and namespaces <= network_namespaces()
        assert not namespaces & {c["netns"] for c in lab.state["mesh"]["clusters"].values()}  # its own network

        down = lab.run_lab(["down"], lab_dir=other)
        assert "no process left" in down.stderr, down.stderr
        assert not [p for p in first_pids if alive(p)]
        assert not [p for p in mesh_pids if alive(p)] and not owned_processes(other)
        tag = next(iter(namespaces)).split("-")[0]
        assert not [n for n in network_namespaces() if n.startswith(tag + "-")]
        socks = listening()
        assert not [p for p in first_ports if p in socks], socks
        assert not (other / "kubeconfig").exists() and not (other / "kwok").exists() and not (other / "lab.json").exists()

        lab.run_lab(["up", "2"], lab_dir=other)
        with open(str(other / "lab.json")) as f:
            second = json.load(f)["clusters"]
        assert sorted(second) == ["cluster1", "cluster2"]
        second_pids = cluster_pids(second)
        assert not [p for p in first_pids - second_pids if alive(p)]
        socks = listening()
        # a port of the torn-down lab may be reused by the new one, but by nothing else
        assert all(socks[p][1] in second_pids for p in first_ports if p in socks), socks
        with open(str(other / "kubeconfig")) as f:
            assert [c["name"] for c in yaml.safe_load(f)["contexts"]] == ["cluster1", "cluster2"]

        lab.run_lab(["down"], lab_dir=other)
        assert not [p for p in second_pids if alive(p)]
        socks = listening()
        assert not [p for p in cluster_ports(second) if p in socks], socks
    finally:  # whatever failed, leave no process of the other lab behind
        lab.run_lab(["down"], lab_dir=other, check=False)

    # the session's lab is still up
    for context in lab.contexts:
        assert lab.kubectl(context, "get", "--raw", "/readyz").strip() == "ok"
