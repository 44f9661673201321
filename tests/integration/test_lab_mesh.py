# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's mesh (tools/lab, docs/lab.md): an istiod with its own CA per cluster, real processes that come and go
with the pods that need them, load balancer addresses inside the cluster's network namespace, gateway Services'
ClusterIPs that carry traffic, and the pod faults of `lab fault` (a hung app, a crashed one, a refusing endpoint)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import errno
import json
import socket
import time
import uuid

import pytest

from ansible_collections.meshfed.federation.tests.integration.mesh import (
    Mesh, netns, sample_app, until, via_sidecar, via_sidecar_headers)
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
    # the controller takes the address back after the processes are gone (it polls them every 0.2 s): a moment
    # later on a loaded machine
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


# no other gateway of the lab listens there; one per session, as the gateway of an earlier session may still be
# draining on its port (the namespace goes in the background)
GATEWAY_PORT = 18400 + uuid.uuid4().int % 100


def gateway_objects(namespace, label):
    """A gateway Deployment of one pod, its Service (port = targetPort) and a Gateway with an HTTP server on
    GATEWAY_PORT and no route (Envoy answers 404)."""
    selector = {"istio": label}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gw", "namespace": namespace},
         "spec": {"selector": {"matchLabels": selector}, "template": {
             "metadata": {"labels": selector, "annotations": {"inject.istio.io/templates": "gateway"}},
             "spec": {"containers": [{"name": "istio-proxy", "image": "auto"}]}}}},
        service(namespace, "gw", selector),
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": namespace},
         "spec": {"selector": selector, "servers": [
             {"port": {"number": GATEWAY_PORT, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}},
    ]


def service(namespace, name, selector):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": selector, "ports": [{"name": "http", "port": GATEWAY_PORT}]}}


def parent(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[-1].split()[1])


def cluster_ip(lab, namespace, name):
    return lab.kubectl("cluster1", "get", "service", name, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}")


def test_a_gateway_services_cluster_ip_carries_connections_to_a_gateway_envoy(lab, mesh, namespace):
    label = "lab-cluster-ip-" + namespace[-8:]
    lab.kubectl("cluster1", "apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in gateway_objects(
        namespace, label) + [service(namespace, "also-gw", {"istio": label}), service(namespace, "none", {"app": "none"})]))
    w = mesh.wait_ready("cluster1", namespace, "gw-", timeout=90)
    ns, address = w["netns"], cluster_ip(lab, namespace, "gw")
    assert until(lambda: address in netns.addresses(ns, "lo"), timeout=15), netns.addresses(ns, "lo")
    assert address not in netns.addresses(mesh.netns("cluster2"), "lo")
    # the gateway's listener binds the wildcard address, so it takes connections to any address of the namespace
    listeners = until(lambda: [l for l in json.loads(mesh.admin(w, "/listeners?format=json"))["listener_statuses"]
                               if l["local_address"]["socket_address"].get("port_value") == GATEWAY_PORT], timeout=30)
    assert [l["local_address"]["socket_address"]["address"] for l in listeners] == ["0.0.0.0"], listeners
    # and it is the only one there on every address: the gateway's Envoy, the child of its pilot-agent (Istio's
    # bootstrap keeps no per-listener counters); sidecars listen on that Service port too, each on its own address
    owners = mesh.listening(ns, GATEWAY_PORT, wildcard=True)
    assert len(owners) == 1 and parent(owners[0]) == w["pids"]["agent"], (owners, w["pids"])
    status, headers = via_sidecar_headers({"netns": ns, "bind": address}, "anything.example", GATEWAY_PORT)
    assert (status, headers.get("server")) == (404, "istio-envoy"), headers  # a Gateway server without a route

    # another Service selecting the gateway: its ClusterIP comes and goes with it; one selecting no gateway: never
    also, none = cluster_ip(lab, namespace, "also-gw"), cluster_ip(lab, namespace, "none")
    assert until(lambda: also in netns.addresses(ns, "lo"), timeout=15)
    assert none not in netns.addresses(ns, "lo")
    with pytest.raises(OSError) as refused:
        netns.connect(ns, (none, GATEWAY_PORT), 2)
    assert refused.value.errno == errno.ENETUNREACH
    lab.kubectl("cluster1", "delete", "service", "also-gw", "-n", namespace)
    assert until(lambda: also not in netns.addresses(ns, "lo"), timeout=15)
    assert address in netns.addresses(ns, "lo")


@pytest.fixture(scope="module")
def fault_apps(lab):
    """A sample app with its Service (server) and a client pod, both with sidecars, in a namespace of cluster1:
    (namespace, the client's workload, the server's host name)."""
    namespace = "lab-faults-%s" % uuid.uuid4().hex[:8]
    lab.kubectl("cluster1", "apply", "-f", "-", input=sample_app(namespace, "server", service_port_name="http"))
    lab.kubectl("cluster1", "apply", "-f", "-", input=sample_app(namespace, "client"))
    mesh = Mesh(lab)
    if not mesh.state:
        pytest.fail("the lab runs without its mesh (tools/lab/lab up --no-mesh)", pytrace=False)
    mesh.wait_ready("cluster1", namespace, "server-")
    client = mesh.wait_ready("cluster1", namespace, "client-")
    host = "server.%s.svc.cluster.local" % namespace
    assert until(lambda: status_of(client, host) == 200, timeout=60), status_of(client, host)
    yield namespace, client, host
    lab.kubectl("cluster1", "delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def status_of(client, host, timeout=5):
    """The status of a GET from beside the client's sidecar to the server, or the exception's type name."""
    try:
        return via_sidecar(client, host, 8080, "/fault", timeout=timeout)[0]
    except OSError as error:
        return type(error).__name__


def process_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[-1].split()[0]


def test_app_stop_hangs_the_app_behind_its_ready_pod_until_app_start(lab, mesh, fault_apps):
    namespace, client, host = fault_apps
    target = namespace + "/server-"
    with mesh.fault("app-stop", "cluster1", target) as (server,):
        pid = server["pids"]["app-8080"]
        assert process_state(pid) == "T"
        assert status_of(client, host, timeout=2) == socket.timeout.__name__
        pod = json.loads(lab.kubectl("cluster1", "get", "pod", server["pod"], "-n", namespace, "-o", "json"))
        assert {"type": "Ready", "status": "True"} in [dict((k, c[k]) for k in ("type", "status"))
                                                       for c in pod["status"]["conditions"]]
        time.sleep(2)  # a controller step or two: a stopped app is alive, nothing restarts it
        assert mesh.find("cluster1", namespace, "server-")["pids"] == server["pids"]
        assert process_state(pid) == "T"
    assert process_state(pid) != "T"
    assert until(lambda: status_of(client, host) == 200, timeout=20), status_of(client, host)
    assert mesh.find("cluster1", namespace, "server-")["pids"]["app-8080"] == pid


def test_app_kill_leaves_the_app_down_behind_its_sidecar_until_app_start(lab, mesh, fault_apps):
    namespace, client, host = fault_apps
    before = mesh.find("cluster1", namespace, "server-")
    with mesh.fault("app-kill", "cluster1", namespace + "/server-") as (server,):
        assert "app-8080" not in server["pids"] and not alive(before["pids"]["app-8080"])
        with pytest.raises(ConnectionRefusedError):
            netns.connect(server["netns"], ("127.0.0.1", server["app_ports"]["8080"]), 2)
        assert status_of(client, host) == 503
        time.sleep(2)  # a controller step or two: it leaves the app down, and the sidecar up
        assert mesh.find("cluster1", namespace, "server-")["pids"] == {"agent": before["pids"]["agent"]}
        assert status_of(client, host) == 503
    assert until(lambda: status_of(client, host) == 200, timeout=20), status_of(client, host)
    after = mesh.find("cluster1", namespace, "server-")["pids"]
    assert after["agent"] == before["pids"]["agent"] and after["app-8080"] != before["pids"]["app-8080"]


def test_endpoint_refuse_refuses_connections_to_the_pod_until_endpoint_restore(lab, mesh, fault_apps):
    namespace, client, host = fault_apps
    before = mesh.find("cluster1", namespace, "server-")
    with mesh.fault("endpoint-refuse", "cluster1", namespace + "/server-") as (server,):
        with pytest.raises(ConnectionRefusedError):
            netns.connect(server["netns"], (server["ip"], 8080), 2)
        status, body = via_sidecar(client, host, 8080, "/fault")
        assert status == 503 and "connection failure" in body, (status, body)
        time.sleep(2)  # the address stays, and so do the pod's processes
        assert server["ip"] in netns.addresses(server["netns"], "lo")
        assert mesh.find("cluster1", namespace, "server-")["pids"] == before["pids"]
    assert until(lambda: status_of(client, host) == 200, timeout=20), status_of(client, host)
