# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's mesh (tools/lab, docs/lab.md): an istiod with its own CA per cluster, real processes that come and go
with the pods that need them, load balancer addresses inside the cluster's network namespace."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import uuid

import pytest

from ansible_collections.meshfed.federation.tests.integration.mesh import Mesh, netns, until
from ansible_collections.meshfed.federation.tests.integration.test_lab import alive

pytestmark = pytest.mark.lab


@pytest.fixture
def mesh(lab):
    m = Mesh(lab)
    if not m.state:
        pytest.fail("the lab runs without its mesh (tools/lab/lab up --no-mesh)", pytrace=False)
    return m


@pytest.fixture
def namespace(lab):
    name = "lab-mesh-%s" % uuid.uuid4().hex[:8]
    lab.kubectl("cluster1", "create", "namespace", name)
    yield name
    lab.kubectl("cluster1", "delete", "namespace", name, "--wait=false", "--ignore-not-found")


def test_each_cluster_has_its_own_ready_istiod_and_ca(lab, mesh):
    roots = set()
    for context in lab.contexts:
        info = mesh.state["clusters"][context]["istiod"]
        assert alive(info["pid"])
        secret = json.loads(lab.kubectl(context, "get", "secret", "istio-ca-secret", "-n", "istio-system", "-o", "json"))
        roots.add(base64.b64decode(secret["data"]["ca-cert.pem"]))
    assert len(roots) == len(lab.contexts)  # independent meshes: no shared trust
    done = lab.run_lab(["check", "--json", "--quick"], check=False)
    summary = json.loads(done.stdout)
    for cluster in summary["clusters"]:
        assert cluster["istiod"]["healthy"], cluster
        for proxy in cluster["proxies"]:
            assert proxy["sync"] == "SYNCED" and proxy["rejected"] == 0, proxy


def test_a_gateway_pod_gets_a_router_proxy_that_goes_away_with_it(lab, mesh, namespace):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gw", "namespace": namespace},
        "spec": {"selector": {"matchLabels": {"istio": "lab-test-gateway"}}, "template": {
            "metadata": {"labels": {"istio": "lab-test-gateway"}, "annotations": {"inject.istio.io/templates": "gateway"}},
            "spec": {"containers": [{"name": "istio-proxy", "image": "auto"}]}}},
    }
    lab.kubectl("cluster1", "apply", "-f", "-", input=json.dumps(deployment))
    w = mesh.wait_ready("cluster1", namespace, "gw-", timeout=90)
    assert w["kind"] == "router" and all(alive(p) for p in w["pids"].values())
    pod = json.loads(lab.kubectl("cluster1", "get", "pods", "-n", namespace, "-o", "json"))["items"][0]
    assert (pod["status"]["podIP"], pod["metadata"]["labels"]["security.istio.io/tlsMode"]) == (w["ip"], "istio")
    assert w["ip"] in netns.addresses(w["netns"], "lo")
    # istiod serves it: its config dump names the pod's own labels, which the agent never sent
    dump = mesh.admin(w, "/config_dump?resource=dynamic_active_clusters")
    assert "outbound|443||kubernetes.default.svc.cluster.local" in dump
    node = json.loads(mesh.admin(w, "/server_info"))["node"]
    assert node["id"].startswith("router~%s~%s.%s~" % (w["ip"], pod["metadata"]["name"], namespace)), node["id"]

    lab.kubectl("cluster1", "delete", "deployment", "gw", "-n", namespace)
    assert until(lambda: mesh.find("cluster1", namespace, "gw-") is None, timeout=60), mesh.workloads("cluster1")
    assert until(lambda: not any(alive(p) for p in w["pids"].values()), timeout=30), w["pids"]
    # the controller takes the address back after the processes are gone: a moment later on a loaded machine
    assert until(lambda: w["ip"] not in netns.addresses(w["netns"], "lo"), timeout=30), w["ip"]


def test_a_load_balancer_service_gets_an_address_in_its_clusters_network_and_gives_it_back(lab, mesh, namespace):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": namespace},
               "spec": {"type": "LoadBalancer", "selector": {"app": "none"}, "ports": [{"port": 15443, "name": "tls"}]}}
    lab.kubectl("cluster1", "apply", "-f", "-", input=json.dumps(service))

    def address():
        status = json.loads(lab.kubectl("cluster1", "get", "service", "lb", "-n", namespace, "-o", "json"))["status"]
        ingress = (status.get("loadBalancer") or {}).get("ingress") or [{}]
        return ingress[0].get("ip")
    ip = until(address, timeout=30)
    assert ip and ip.startswith("172.31.1.") and 100 <= int(ip.rsplit(".", 1)[1]) < 200, ip
    ns = mesh.netns("cluster1")
    assert until(lambda: ip in netns.addresses(ns, "eth0"), timeout=10)
    assert ip not in netns.addresses(mesh.netns("cluster2"), "eth0")
    lab.kubectl("cluster1", "delete", "service", "lb", "-n", namespace)
    assert until(lambda: ip not in netns.addresses(ns, "eth0"), timeout=30)
