# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The caller's identity across the boundary (issue 23), single-inventory mode, on the lab's real mesh.

cluster2 exports ``whoami`` (an app answering with the headers it received) to cluster1, granted to its caller
``callers/web`` only, and to cluster3, granted to ``shop/*``. cluster1 imports it in namespace ``callers`` (pods
``web`` and ``sneak``, each with its own service account) and in ``lobby`` (no caller granted: the run warns);
cluster3 in ``shop`` (pod ``cart``). Requests are sent beside each pod's sidecar, as the pod itself would."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import json
import os
import ssl

import pytest
import yaml

from ansible_collections.meshfed.federation.tests.integration.mesh import netns, three_cluster_mesh, until, via_sidecar
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    run_playbook, settle_namespace, write_inventory)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FEDERATION = "callers"
GATEWAYS = "istio-private-gateways"
EXPORTED = "exported"
CALLERS, LOBBY, SHOP = "callers", "lobby", "shop"
PORT = 8080
CALLER, CONSUMER, CONSUMER_SNI = "x-meshfed-caller", "x-meshfed-consumer", "x-meshfed-consumer-sni"
WEB = "spiffe://cluster.local/ns/callers/sa/web"
SNEAK = "spiffe://cluster.local/ns/callers/sa/sneak"
CART = "spiffe://cluster.local/ns/shop/sa/cart"
GRANT_HOST = "whoami.c2.example.com"
ROUNDS = 10  # requests per case: each case sends exactly this many, one at a time


def app(namespace, name, service_account=None, service=False):
    """A lab http app (it answers with the x- headers it received) with its own service account, hence its own
    SPIFFE ID; with ``service`` its Service."""
    docs = [{"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": namespace, "labels": {"istio-injection": "enabled"}}}]
    pod_spec = {"containers": [{"name": "app", "image": "lab/http", "ports": [{"containerPort": PORT}]}]}
    if service_account:
        docs.append({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": service_account, "namespace": namespace}})
        pod_spec["serviceAccountName"] = service_account
    docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                 "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                     "metadata": {"labels": {"app": name}, "annotations": {"lab.meshfed.io/app": "http"}},
                     "spec": pod_spec}}})
    if service:
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                     "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": PORT}]}})
    return "\n---\n".join(json.dumps(d) for d in docs)


def apply_apps(lab, apps):
    """context -> app() documents: each cluster's gateway namespace and the apps' namespaces settled (a previous
    run's may still be going away), then the apps applied."""
    for context, docs in apps.items():
        settle_namespace(lab, context, GATEWAYS)
        for namespace in sorted(set(json.loads(d.split("\n---\n")[0])["metadata"]["name"] for d in docs)):
            settle_namespace(lab, context, namespace)
        for doc in docs:
            lab.kubectl(context, "apply", "-f", "-", input=doc)


def delete_namespaces(lab, namespaces):
    for context, names in namespaces:
        for namespace in names:
            lab.kubectl_run(context, "delete", "namespace", namespace, "--wait=false")


def whoami_import(namespace):
    return {"name": "whoami", "namespace": namespace, "port": PORT, "from": [{"cluster": "cluster2", "export": "whoami"}]}


def hosts(clusters):
    clusters.clear()
    clusters.update({
        "cluster1": {"meshfed_identity": "c1.example.com",
                     "meshfed_imports": [whoami_import(CALLERS), whoami_import(LOBBY)]},
        "cluster2": {"meshfed_identity": "c2.example.com", "meshfed_exports": [
            {"name": "whoami", "service": {"namespace": EXPORTED, "name": "whoami", "port": PORT},
             "consumers": [{"cluster": "cluster1", "callers": ["callers/web"]},
                           {"cluster": "cluster3", "callers": ["shop/*"]}]}]},
        "cluster3": {"meshfed_identity": "c3.example.com", "meshfed_imports": [whoami_import(SHOP)]},
    })


@pytest.fixture(scope="module")
def federation(lab, tmp_path_factory):
    mesh = three_cluster_mesh(lab)
    inventory = write_inventory(str(tmp_path_factory.mktemp("callers") / "inventory"), lab.kubeconfig,
                                FEDERATION, mutate=hosts)
    apps = {"cluster1": [app(CALLERS, "web", "web"), app(CALLERS, "sneak", "sneak"), app(LOBBY, "visitor")],
            "cluster2": [app(EXPORTED, "whoami", "whoami", service=True)],
            "cluster3": [app(SHOP, "cart", "cart")]}
    apply_apps(lab, apps)
    run = run_playbook("federate.yml", inventory, timeout=900)
    assert run.rc == 0, run.failure() + run.stderr[-4000:]
    proxies = {"web": mesh.wait_ready("cluster1", CALLERS, "web"), "sneak": mesh.wait_ready("cluster1", CALLERS, "sneak"),
               "visitor": mesh.wait_ready("cluster1", LOBBY, "visitor"), "cart": mesh.wait_ready("cluster3", SHOP, "cart")}
    mesh.wait_ready("cluster2", EXPORTED, "whoami")
    mesh.wait_ready("cluster2", GATEWAYS, "istio-private-ingressgateway")
    for context in ("cluster1", "cluster3"):
        mesh.wait_ready(context, GATEWAYS, "istio-private-egressgateway")
    # converged: both granted callers answer five times in a row
    assert until(lambda: all(call(proxies[name], namespace)[0] == 200 for dummy in range(5)
                             for name, namespace in (("web", CALLERS), ("cart", SHOP))), timeout=180, interval=2)
    address = yaml.safe_load(lab.kubectl("cluster2", "get", "service", "-n", GATEWAYS, "istio-private-ingressgateway",
                                         "-o", "yaml"))["status"]["loadBalancer"]["ingress"][0]["ip"]
    yield {"mesh": mesh, "proxies": proxies, "inventory": inventory, "run": run, "pki": inventory + "-pki",
           "ingress_address": address}
    done = run_playbook("unfederate.yml", inventory, timeout=900)
    assert done.rc == 0, done.failure() + done.stderr[-4000:]
    delete_namespaces(lab, (("cluster1", (CALLERS, LOBBY)), ("cluster2", (EXPORTED,)), ("cluster3", (SHOP,))))


def call(proxy, namespace, headers=None, path="/whoami"):
    return via_sidecar(proxy, "whoami.%s.svc.cluster.local" % namespace, PORT, path, headers=headers)


def rounds(proxy, namespace, headers=None):
    """ROUNDS requests, one at a time: Counter of statuses, and the bodies of the 200s."""
    answers = [call(proxy, namespace, headers) for dummy in range(ROUNDS)]
    return collections.Counter(status for status, dummy in answers), [b for s, b in answers if s == 200]


def test_a_forged_caller_header_arrives_at_the_app_as_the_real_caller(federation):
    forged = {CALLER: SNEAK, CONSUMER: "spiffe://c3.example.com/meshfed-gateway", CONSUMER_SNI: "forged.example.com",
              "x-forwarded-for": "198.51.100.7"}
    statuses, bodies = rounds(federation["proxies"]["web"], CALLERS, forged)
    assert statuses == {200: ROUNDS}, statuses
    seen = set((b["headers"].get(CALLER), b["headers"].get(CONSUMER), b["headers"].get(CONSUMER_SNI)) for b in bodies)
    # the caller set by cluster1's egress gateway from web's certificate; the consumer by cluster2's ingress gateway
    assert seen == {(WEB, "spiffe://c1.example.com/meshfed-gateway", GRANT_HOST)}, seen
    # cluster1's egress gateway removed the client's x-forwarded-for and never adds web's addresses: cluster2 sees
    # only what its own ingress gateway appends (the consumer's egress address)
    forwarded = set(a.strip() for b in bodies for a in b["headers"].get("x-forwarded-for", "").split(",") if a.strip())
    web = federation["proxies"]["web"]
    addresses = set(a for a in (web.get("ip"), web.get("bind"), "198.51.100.7") if a)
    assert len(addresses) >= 2 and not addresses & forwarded, (addresses, forwarded)
    assert all(b["namespace"] == EXPORTED for b in bodies)


def test_a_caller_not_granted_gets_403_while_a_granted_one_of_the_same_consumer_gets_200(federation):
    proxies = federation["proxies"]
    granted, dummy = rounds(proxies["web"], CALLERS)
    refused, dummy = rounds(proxies["sneak"], CALLERS)
    # sneak claiming to be web: its egress gateway overwrites the claim with sneak's own identity
    claiming, dummy = rounds(proxies["sneak"], CALLERS, {CALLER: WEB})
    assert (granted, refused, claiming) == ({200: ROUNDS}, {403: ROUNDS}, {403: ROUNDS}), (granted, refused, claiming)


def test_the_apps_received_headers_show_consumer_and_caller_for_each_consumer(federation):
    statuses, bodies = rounds(federation["proxies"]["cart"], SHOP, {CALLER: WEB})
    assert statuses == {200: ROUNDS}, statuses
    seen = set((b["headers"].get(CALLER), b["headers"].get(CONSUMER), b["headers"].get(CONSUMER_SNI)) for b in bodies)
    assert seen == {(CART, "spiffe://c3.example.com/meshfed-gateway", GRANT_HOST)}, seen


def mutual_tls_get(ns, address, sni, cert_file, key_file, ca_file, headers):
    """One GET / to the exporter's ingress gateway from inside ``ns``, with a consumer gateway's certificate:
    what a consumer whose egress gateway lies about its callers sends. Returns the status."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca_file)
    ctx.load_cert_chain(cert_file, key_file)
    raw = netns.connect(ns, (address, 15443), 5.0)
    with ctx.wrap_socket(raw, server_hostname=sni) as tls:
        lines = ["GET /whoami HTTP/1.1", "Host: " + sni, "Connection: close"]
        lines += ["%s: %s" % item for item in sorted(headers.items())]
        tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while len(data) < 65536:
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_one_consumer_cannot_claim_another_consumers_callers(federation):
    """A consumer's egress gateway asserts its callers; the exporter binds them to that consumer's certificate in one
    rule. cluster3's certificate with cluster1's granted caller is refused; with a caller of its own grant, served."""
    pki, mesh = federation["pki"], federation["mesh"]
    creds = [os.path.join(pki, name) for name in ("cluster3.crt", "cluster3.key", "ca.crt")]

    def statuses(caller):
        return collections.Counter(mutual_tls_get(mesh.netns("cluster3"), federation["ingress_address"], GRANT_HOST,
                                                  *creds, headers={CALLER: caller}) for dummy in range(ROUNDS))

    own, claimed = statuses(CART), statuses(WEB)
    assert (own, claimed) == ({200: ROUNDS}, {403: ROUNDS}), (own, claimed)


def test_the_run_warns_of_an_import_whose_namespace_has_no_caller_granted_and_its_callers_get_403(federation):
    warned = [w for dummy, host, result in federation["run"].task_results("service_import", preflight=None)
              for w in result.get("warnings", []) if host == "cluster1"]
    lobby = [w for w in warned if "import lobby/whoami" in w]
    assert lobby and all("none in namespace lobby" in w for w in lobby), warned
    assert not [w for w in warned if "import callers/whoami" in w], warned
    statuses, dummy = rounds(federation["proxies"]["visitor"], LOBBY)
    assert statuses == {403: ROUNDS}, statuses


def test_a_rerun_changes_nothing(federation):
    again = run_playbook("federate.yml", federation["inventory"], timeout=900)
    assert again.rc == 0, again.failure()
    assert not again.changed_tasks(), again.changed_tasks()
