# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed scenario (inventories/lab) on the lab's real mesh: istiod per cluster, the collection's private
gateways as real Envoys, the Bookinfo pods with real sidecars. Requests are sent by a client beside cluster1's
productpage sidecar, to its outbound listener, as productpage itself would."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import json
import os
import shutil
import ssl
import time

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki

from ansible_collections.meshfed.federation.tests.integration.mesh import (
    LoadLoop, Mesh, Stall, handshake_per_request, mutual_tls_handshake, record_load, sample_app, until, via_sidecar)
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import OWNED, REPO, run_playbook, settle_namespace

pytestmark = [pytest.mark.lab, pytest.mark.slow]

INVENTORY = os.path.join(REPO, "inventories", "lab")
GATEWAYS = "istio-private-gateways"
REVIEWS = "reviews.default.svc.cluster.local"
DETAILS = "details.default.svc.cluster.local"
EGRESS_HOST = "istio-private-egressgateway.istio-private-gateways.svc.cluster.local"
OUTSIDER_NS = "outsider"
OUTSIDER = sample_app(OUTSIDER_NS, "curious")
STOLEN_EGRESS = "egress.stolen.example.com"
TENANT_NS = "tenant"
TENANT = sample_app(TENANT_NS, "thief", service_port_name="http")


def play(lab, playbook, *extra):
    run = run_playbook(playbook, INVENTORY, *extra, env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)
    assert run.rc == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return run


@pytest.fixture(scope="module")
def seed(lab):
    mesh = Mesh(lab)
    if not mesh.state:
        pytest.fail("the lab runs without its mesh (tools/lab/lab up --no-mesh); run tools/lab/lab up 3", pytrace=False)
    play(lab, "lab_sample_apps.yml", "--limit", "cluster1,cluster2")
    for context in ("cluster1", "cluster2"):
        settle_namespace(lab, context, GATEWAYS)  # a previous federation's may still be going away
    # a tenant of cluster2 wrote its routes for the exports' hosts before the federation existed: its VirtualServices
    # are older than meshfed's, which Istio puts first (test_a_tenant_virtual_service_...)
    settle_namespace(lab, "cluster2", TENANT_NS)
    lab.kubectl("cluster2", "apply", "-f", "-", input=TENANT)
    lab.kubectl("cluster2", "apply", "-f", "-", input="\n---\n".join(json.dumps(r) for r in TENANT_ROUTES))
    play(lab, "federate.yml")
    lab.kubectl("cluster1", "apply", "-f", "-", input=OUTSIDER)
    proxies = {
        "productpage": mesh.wait_ready("cluster1", "default", "productpage-v1"),
        "outsider": mesh.wait_ready("cluster1", OUTSIDER_NS, "curious"),
        "egress": mesh.wait_ready("cluster1", GATEWAYS, "istio-private-egressgateway"),
        "ingress": mesh.wait_ready("cluster2", GATEWAYS, "istio-private-ingressgateway"),
    }
    for cluster, namespace, prefix in (("cluster1", "default", "reviews-v1"), ("cluster2", "bookinfo", "reviews-v2"),
                                       ("cluster2", "bookinfo", "details-v1")):
        mesh.wait_ready(cluster, namespace, prefix)
    # the first request through the whole chain once every proxy has its configuration
    until(lambda: via_sidecar(proxies["productpage"], DETAILS, 9080, "/details/0")[0] == 200, timeout=120)
    proxies["thief"] = mesh.wait_ready("cluster2", TENANT_NS, "thief")
    yield mesh, proxies
    lab.kubectl_run("cluster1", "delete", "namespace", OUTSIDER_NS, "--wait=false")
    lab.kubectl_run("cluster2", "delete", "namespace", TENANT_NS, "--wait=false")


def test_reviews_split_between_local_v1_and_cluster2_v2(seed):
    mesh, proxies = seed
    seen = collections.Counter()
    v2_requests = []
    for i in range(400):
        status, body = via_sidecar(proxies["productpage"], REVIEWS, 9080, "/reviews/%d" % i)
        assert status == 200, body
        seen[(body["namespace"], body["version"])] += 1
        if body["version"] == "v2":
            v2_requests.append(body)
    assert set(seen) == {("default", "v1"), ("bookinfo", "v2")}, seen
    for key in seen:
        assert 160 <= seen[key] <= 240, seen  # 50 % +- 10 % of 400
    # v2 is cluster2's myreviews: it sees the path the client sent and the authority of the local service
    assert {r["authority"] for r in v2_requests} == {"myreviews.bookinfo.svc.cluster.local"}
    assert all(r["path"].startswith("/reviews/") for r in v2_requests)


def test_details_reaches_cluster2_and_only_under_its_path_prefix(seed):
    mesh, proxies = seed
    status, body = via_sidecar(proxies["productpage"], DETAILS, 9080, "/details/7")
    assert status == 200, body
    assert (body["namespace"], body["pod"].startswith("details-v1"), body["path"]) == ("bookinfo", True, "/details/7")
    status, body = via_sidecar(proxies["productpage"], DETAILS, 9080, "/health")
    assert status == 404, body  # cluster2's ingress gateway has no route outside /details


def test_callers_in_other_namespaces_keep_the_local_service_and_never_reach_the_peer(seed):
    """The import is for `default` alone: elsewhere in cluster1 reviews is the plain local Service, as before the
    federation (every request answered by the local copy), and details, which has no local copy, a Service without
    endpoints: a 503 from the caller's own sidecar, never a request through the egress gateway."""
    mesh, proxies = seed
    outsider = proxies["outsider"]
    egress_before = egress_connections(mesh)
    versions = collections.Counter()
    for dummy in range(40):
        status, body = via_sidecar(outsider, REVIEWS, 9080, "/reviews/1")
        versions[(body.get("namespace"), body.get("version")) if status == 200 else status] += 1
    assert versions == {("default", "v1"): 40}, versions
    answers = collections.Counter()
    for dummy in range(10):
        status, body = via_sidecar(outsider, DETAILS, 9080, "/details/1")
        answers[(status, "no healthy upstream" in str(body))] += 1
    assert answers == {(503, True): 10}, answers
    assert egress_connections(mesh) == egress_before
    # and the same requests from `default` do reach cluster2 (the refusal above is about the namespace)
    assert via_sidecar(proxies["productpage"], DETAILS, 9080, "/details/1")[0] == 200


def egress_connections(mesh):
    """Connections the egress gateway's pods ever judged (judged)."""
    return sum(judged(mesh, w) for w in gateway_proxies(mesh, "cluster1", "egress"))


def gateway_proxies(mesh, cluster, direction):
    """The proxies of a gateway's pods (two by default: autoscale_min) that are live."""
    return [w for w in mesh.workloads(cluster) if w["namespace"] == GATEWAYS and
            w["pod"].startswith("istio-private-%sgateway-" % direction) and mesh.live(w)]


def tenant_routes(routes_by_host):
    """What a tenant of cluster2 with VirtualService rights in its own namespace writes to take an export's
    requests: routes of its own to its own Service, bound to meshfed's export Gateways by name."""
    return [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": {"name": "take-" + gateway.split("/")[-1], "namespace": TENANT_NS},
             "spec": {"hosts": [host], "gateways": [gateway], "http": [{
                 "match": [{"uri": {"prefix": prefix}}],
                 "route": [{"destination": {"host": "thief.%s.svc.cluster.local" % TENANT_NS,
                                            "port": {"number": 8080}}}]} for prefix in prefixes]}}
            for host, (gateway, prefixes) in sorted(routes_by_host.items())]


# reviews-v2 is a catch-all export (prefix /), whose route Istio sorts after the tenant's more specific one; details
# is path-prefixed: meshfed's VirtualService, private to the gateway namespace, comes before a public one for the
# same prefix, but the tenant's route outside the prefix would be the only one there (the export widened)
TENANT_ROUTES = tenant_routes({
    "reviews-v2.c2.example.com": (GATEWAYS + "/meshfed-export-reviews-v2", ["/reviews"]),
    "details.c2.example.com": (GATEWAYS + "/meshfed-export-details", ["/details", "/health"])})


def unscoped(lab, context, gateway):
    """The live Gateway with its servers' hosts as they were before the boundary fix (no ``./``)."""
    live = json.loads(lab.kubectl(context, "get", "gateways.networking.istio.io", "-n", GATEWAYS, gateway, "-o", "json"))
    patch = [{"op": "replace", "path": "/spec/servers/%d/hosts" % i, "value": [h.split("/", 1)[-1] for h in s["hosts"]]}
             for i, s in enumerate(live["spec"]["servers"])]
    lab.kubectl(context, "patch", "gateways.networking.istio.io", "-n", GATEWAYS, gateway, "--type=json",
                "-p", json.dumps(patch))


def tally(proxy, host, path, count):
    """Who answered ``count`` requests: the app's namespace, or the status."""
    seen = collections.Counter()
    for i in range(count):
        status, body = via_sidecar(proxy, host, 9080, path % i)
        seen[body.get("namespace") if status == 200 else status] += 1
    return seen


def test_a_tenant_virtual_service_bound_to_an_export_gateway_takes_no_request(seed, lab):
    """A tenant of the exporting cluster bound routes of its own to the export Gateways of reviews-v2 (a catch-all
    export) and details (a path-prefixed one), before the federation existed. Istio binds a VirtualService of any
    namespace to a server whose hosts admit it: meshfed's servers admit their own namespace only (``./host``), and
    the tenant takes nothing and adds nothing. Shown too on the live Gateways with their servers as they were before:
    the tenant takes reviews' remote share and serves /health on details' host, until federate.yml puts them back."""
    mesh, proxies = seed
    productpage = proxies["productpage"]

    def health():
        return via_sidecar(productpage, DETAILS, 9080, "/health")

    def assert_untouched():
        reviews, details = tally(productpage, REVIEWS, "/reviews/%d", 40), tally(productpage, DETAILS, "/details/%d", 20)
        assert set(reviews) == {"default", "bookinfo"}, reviews  # the local v1 and cluster2's v2, nobody else
        assert details == {"bookinfo": 20}, details
        assert [health()[0] for dummy in range(5)] == [404] * 5  # cluster2's gateway has no route outside /details
    assert_untouched()
    try:
        for gateway in ("meshfed-export-reviews-v2", "meshfed-export-details"):
            unscoped(lab, "cluster2", gateway)
        assert until(lambda: health()[0] == 200, timeout=60)
        status, body = health()
        assert (status, body["namespace"]) == (200, TENANT_NS), body
        taken = tally(productpage, REVIEWS, "/reviews/%d", 20)
        assert taken[TENANT_NS] >= 4 and "bookinfo" not in taken, taken  # the whole remote half, about 10
    finally:
        play(lab, "federate.yml")
    assert until(lambda: health()[0] == 404, timeout=60)
    assert_untouched()


def test_an_allow_all_policy_elsewhere_does_not_open_a_binding_to_other_namespaces(seed, lab):
    """A mesh-wide ALLOW (``rules: [{}]`` in the root namespace) and an ALLOW of someone else's in the gateway
    namespace add up with the bindings' ALLOW policies; the DENY per binding still refuses a workload of another
    namespace that dials the egress gateway with a binding's SNI, and the refusal is the egress gateway's RBAC
    filter (its denied counter moves), not a missing listener."""
    mesh, proxies = seed
    sni = binding_sni(lab, "details")
    request = outsider_dials_the_egress_gateway(lab, proxies["outsider"], sni)
    allow_all = [
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
         "metadata": {"name": "allow-all", "namespace": "istio-system"}, "spec": {"rules": [{}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
         "metadata": {"name": "allow-all", "namespace": GATEWAYS},
         "spec": {"selector": {"matchLabels": {"istio": "private-egressgateway"}}, "rules": [{}]}},
    ]
    lab.kubectl("cluster1", "apply", "-f", "-", input="\n---\n".join(json.dumps(p) for p in allow_all))
    try:
        # without the DENY (deleted here, put back by federate.yml) the allow-all opens the binding ...
        lab.kubectl("cluster1", "delete", "authorizationpolicies.security.istio.io", "-n", GATEWAYS,
                    "-l", OWNED + ",meshfed.io/import=details")
        assert until(lambda: request()[0] == 200, timeout=60)
        play(lab, "federate.yml")
        # ... with it, refused by the egress gateway's RBAC filter (the binding is an HTTP hop: 403)
        assert until(lambda: request()[0] == 403, timeout=60)
        denied_before = rbac_denied(mesh)
        statuses = collections.Counter(request()[0] for dummy in range(10))
        assert statuses == {403: 10}, statuses
        assert rbac_denied(mesh) - denied_before >= 10
        # the importing namespace is not affected
        assert via_sidecar(proxies["productpage"], DETAILS, 9080, "/details/1")[0] == 200
    finally:
        lab.kubectl_run("cluster1", "delete", "authorizationpolicies.security.istio.io", "allow-all",
                        "-n", "istio-system")
        lab.kubectl_run("cluster1", "delete", "authorizationpolicies.security.istio.io", "allow-all", "-n", GATEWAYS)
        lab.kubectl_run("cluster1", "delete", "serviceentry,virtualservice,destinationrule", "-n", OUTSIDER_NS,
                        "--all")


def rbac_denied(mesh):
    """Connections the egress gateway's pods' RBAC filters denied (Envoy's rbac.denied counters)."""
    return sum(sum(mesh.stats(w, r"rbac\.denied$").values()) for w in gateway_proxies(mesh, "cluster1", "egress"))


def binding_sni(lab, import_name):
    gateways = json.loads(lab.kubectl("cluster1", "get", "gateways.networking.istio.io", "-n", GATEWAYS,
                                      "-l", "meshfed.io/import=" + import_name, "-o", "json"))["items"]
    (host,) = gateways[0]["spec"]["servers"][0]["hosts"]
    return host.split("/", 1)[-1]


def outsider_dials_the_egress_gateway(lab, outsider, sni):
    """What a workload in another namespace can write in its own namespace: a name of its own routed to the egress
    gateway's pod address (the egress gateway's Service is exported to the importing namespaces only, so it names
    the address in a ServiceEntry of its own), with Istio mutual TLS and a binding's SNI, and that SNI as authority
    too (the binding's virtual host on the egress gateway, an HTTP hop for http imports). Returns a request to it;
    it reaches cluster2 unless the egress gateway refuses it."""
    address = lab.kubectl("cluster1", "get", "pods", "-n", GATEWAYS, "-l", "istio=private-egressgateway",
                          "-o", "jsonpath={.items[0].status.podIP}").strip()
    assert address, "the egress gateway's pod has no address"
    objects = [
        {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
         "metadata": {"name": "stolen", "namespace": OUTSIDER_NS},
         "spec": {"hosts": ["stolen.example.com"], "location": "MESH_EXTERNAL", "resolution": "NONE",
                  "ports": [{"number": 8081, "name": "http", "protocol": "HTTP"}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
         "metadata": {"name": "stolen-egress", "namespace": OUTSIDER_NS},
         "spec": {"hosts": [STOLEN_EGRESS], "location": "MESH_INTERNAL", "resolution": "STATIC",
                  "endpoints": [{"address": address}], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "stolen", "namespace": OUTSIDER_NS},
         "spec": {"hosts": ["stolen.example.com"], "http": [{
             "rewrite": {"authority": sni},
             "route": [{"destination": {"host": STOLEN_EGRESS, "port": {"number": 443}}}]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
         "metadata": {"name": "stolen", "namespace": OUTSIDER_NS},
         "spec": {"host": STOLEN_EGRESS, "trafficPolicy": {"portLevelSettings": [
             {"port": {"number": 443}, "tls": {"mode": "ISTIO_MUTUAL", "sni": sni}}]}}},
    ]
    lab.kubectl("cluster1", "apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))
    return lambda: via_sidecar(outsider, "stolen.example.com", 8081, "/details/5")


def test_dialing_the_egress_gateway_with_a_bindings_sni_is_refused_outside_the_importing_namespace(seed, lab):
    mesh, proxies = seed
    sni = binding_sni(lab, "details")
    request = outsider_dials_the_egress_gateway(lab, proxies["outsider"], sni)
    policies = lab.kubectl("cluster1", "get", "authorizationpolicies.security.istio.io", "-n", GATEWAYS, "-o", "json")
    try:
        # without the per-binding policy (deleted here, restored by federate.yml below) the path is open ...
        lab.kubectl("cluster1", "delete", "authorizationpolicies.security.istio.io", "-n", GATEWAYS, "--all")
        assert until(lambda: request()[0] == 200, timeout=60)
    finally:
        play(lab, "federate.yml")
    assert json.loads(policies)["items"], "federate.yml renders an AuthorizationPolicy per binding"
    # ... with it, the egress gateway's HTTP RBAC filter answers 403, nothing reaches cluster2
    assert until(lambda: request()[0] == 403, timeout=60)
    statuses = collections.Counter(request()[0] for dummy in range(10))
    assert statuses == {403: 10}, statuses
    lab.kubectl("cluster1", "delete", "serviceentry,virtualservice,destinationrule", "-n", OUTSIDER_NS, "--all")


def test_every_proxy_has_its_secrets_and_rejected_nothing(seed):
    mesh, proxies = seed
    for cluster in ("cluster1", "cluster2"):
        workloads = mesh.workloads(cluster)
        assert workloads
        for w in workloads:
            assert mesh.rejected_updates(w) == 0, w
    ingress_secrets = {s["name"]: s for s in envoy_secrets(mesh, proxies["ingress"])}
    assert ingress_secrets["kubernetes://c2-example-com-certs"]["certificate"], ingress_secrets
    egress_secrets = {s["name"]: s for s in envoy_secrets(mesh, proxies["egress"])}
    assert egress_secrets["kubernetes://c1-example-com-certs"]["certificate"], egress_secrets
    sidecar_secrets = {s["name"]: s for s in envoy_secrets(mesh, proxies["productpage"])}
    assert sidecar_secrets["default"]["certificate"] and sidecar_secrets["ROOTCA"]["validation"], sidecar_secrets


def judged(mesh, w):
    """Connections (tcp) and requests (http) the proxy's RBAC filters allowed or denied: every one a gateway of the
    federation serves passes them (its policies select it). Istio's default stats inclusion keeps no listener
    counters, these it keeps."""
    counters = mesh.stats(w, r"rbac\.(allowed|denied)$")
    assert counters, "%s has no RBAC counters" % w["pod"]  # a measure that cannot move would prove nothing
    return sum(counters.values())


def evict(lab, context, pod):
    """What a node drain does to a pod: an Eviction, which the PodDisruptionBudget may refuse."""
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": GATEWAYS}}
    lab.kubectl(context, "create", "--raw", "/api/v1/namespaces/%s/pods/%s/eviction" % (GATEWAYS, pod), "-f", "-",
                input=json.dumps(eviction))


def evict_the_busiest_pod_under_load(lab, mesh, proxies, context, direction):
    """A load of 20 requests a second from productpage to details (cluster1's egress gateway, then cluster2's
    ingress gateway) while the gateway's pod that has served the most (an idle one would prove nothing) is evicted
    and the Deployment replaces it; returns the load loop once the evicted pod's drain is over."""
    assert until(lambda: len(gateway_proxies(mesh, context, direction)) == 2, timeout=120), mesh.workloads(context)
    with LoadLoop(proxies["productpage"], DETAILS, 9080, "/details/", rate=20, max_count=1200, max_seconds=60) as load:
        served = until(lambda: max((judged(mesh, w), w["pod"]) for w in gateway_proxies(mesh, context, direction))[0]
                       > 0 and sorted((judged(mesh, w), w["pod"]) for w in gateway_proxies(mesh, context, direction)),
                       timeout=30)
        assert served, (context, direction, load.statuses, load.failures)
        victim = served[-1][1]
        evict(lab, context, victim)
        assert until(lambda: sorted(w["pod"] != victim for w in gateway_proxies(mesh, context, direction)) ==
                     [True, True], timeout=120), (context, victim)
        time.sleep(8)  # the evicted pod's drain (5 s) ends while the load goes on
        # A slow request (a timeout takes its seconds) must not leave the drill with too few requests to judge.
        until(lambda: sum(load.statuses.values()) >= 100, timeout=30)
    return load


def test_each_gateway_loses_one_of_its_two_pods_without_a_failed_request(seed, lab):
    """Every gateway runs two pods (autoscale_min 2, spread over zones and nodes where there are several); a node
    drain evicts one at a time (the PDB). cluster2's ingress gateway, an http server for the details export, drains
    its connections (Connection: close) and loses no request. cluster1's egress gateway proxies the binding as tcp:
    its connections cannot be drained, so a request in flight on a connection of the evicted pod when its drain ends
    (5 s after it left the load balancer) is cut; at most the requests in flight, one at this rate. Counts in
    docs/reliability.md; the egress as an http hop (issue 22) is what drains it."""
    mesh, proxies = seed
    ingress = evict_the_busiest_pod_under_load(lab, mesh, proxies, "cluster2", "ingress")
    egress = evict_the_busiest_pod_under_load(lab, mesh, proxies, "cluster1", "egress")
    record_load(lab, "a gateway pod evicted", [ingress, egress])
    sent = sum(ingress.statuses.values())
    assert sent >= 100 and ingress.statuses == {200: sent}, (ingress.statuses, ingress.failures)
    sent = sum(egress.statuses.values())
    assert sent >= 100 and egress.statuses[200] >= sent - 1, (egress.statuses, egress.failures)


def envoy_secrets(mesh, w):
    from labkit import envoy_admin  # tools/lab is on the path through mesh.py
    return envoy_admin.active_secrets(w["netns"], w["admin_port"])


def rotate(lab, mesh, *extra):
    """rotate_certificates.yml from the operator's namespace, where its probes reach the gateways."""
    run = run_playbook("rotate_certificates.yml", INVENTORY, *extra, env={"MESHFED_LAB_DIR": lab.dir},
                       netns=mesh.state["operator_netns"], timeout=900)
    assert run.rc == 0, run.stdout[-6000:] + run.stderr[-3000:]
    return run


def said(run):
    """What the run's debug tasks printed."""
    return "\n".join(str(res.get("msg")) for dummy, dummy_host, res in run.task_results("debug"))


def fingerprints(path):
    with open(path) as f:
        text = f.read()
    end = "-----END CERTIFICATE-----"
    return [pki.fingerprint_sha256(pki.load_cert((part + end + "\n").encode())) for part in text.split(end)[:-1]]


def istiod_pid(lab, cluster):
    return lab.state["mesh"]["clusters"][cluster]["istiod"]["pid"]


def test_renewing_the_gateway_certificates_drops_no_request(seed, lab):
    mesh, proxies = seed
    handshake_per_request(lab, "cluster1")
    pki_dir = os.path.join(lab.dir, "pki", "bookinfo-lab")
    with open(os.path.join(pki_dir, "cluster1.crt"), "rb") as f:
        before = f.read()
    with LoadLoop(proxies["productpage"], DETAILS, 9080, "/details/") as load:
        rotate(lab, mesh)
        time.sleep(5)  # requests after the new certificates are served too
    with open(os.path.join(pki_dir, "cluster1.crt"), "rb") as f:
        assert f.read() != before
    assert load.statuses[200] >= 20 * load.seconds * 0.5, (load.statuses, load.seconds)
    assert set(load.statuses) == {200}, (load.statuses, load.failures)
    record_load(lab, "leaf renewal", load)


def test_replacing_the_ca_at_once_drops_requests_while_a_cluster_lags(seed, lab):
    """What the stages are for, and that the load loop sees it: the CA replaced at once (meshfed_pki_rotate_ca, for
    a compromised CA) while cluster1's control plane is slow. cluster2's gateway trusts the new CA alone before
    cluster1's presents a certificate of it."""
    mesh, proxies = seed
    handshake_per_request(lab, "cluster1")
    with Stall(istiod_pid(lab, "cluster1")), LoadLoop(proxies["productpage"], DETAILS, 9080, "/details/") as load:
        rotate(lab, mesh, "-e", "meshfed_pki_rotate_ca=true")
        # cluster1 lags until cluster2's istiod has given its gateway the new CA alone (on a loaded machine that took
        # longer than the 5 s this waited before), at most 60 s
        until(lambda: load.failures, timeout=60)
        time.sleep(2)
    assert sum(n for status, n in load.statuses.items() if status != 200) > 0, load.statuses
    record_load(lab, "CA replaced at once, cluster1's istiod stalled", load)
    assert until(lambda: via_sidecar(proxies["productpage"], DETAILS, 9080, "/details/1")[0] == 200, timeout=60)


def copies(pki_dir, directory, names=("cluster1.crt", "cluster1.key", "ca.crt")):
    """name -> path of a copy, in ``directory``, of each file of the PKI directory (what it holds now)."""
    paths = {}
    for name in names:
        paths[name] = os.path.join(str(directory), name)
        shutil.copy(os.path.join(pki_dir, name), paths[name])
    return paths


@pytest.mark.parametrize("lagging", ["cluster2", "cluster1"])
def test_rotating_the_ca_in_stages_drops_no_request_and_ends_trusting_the_new_ca_alone(seed, lab, tmp_path, lagging):
    """A CA rotation in stages under a load loop whose every request is a new handshake between the gateways, with
    one cluster's control plane slow: cluster2's (its ingress gateway gets each stage seconds late, which the probes
    wait for), or cluster1's (its egress gateway, which no probe reaches: the pause after each stage covers it)."""
    mesh, proxies = seed
    pki_dir = os.path.join(lab.dir, "pki", "bookinfo-lab")
    old = copies(pki_dir, tmp_path)
    old_ca = fingerprints(old["ca.crt"])
    address = json.loads(lab.kubectl("cluster2", "get", "service", "-n", GATEWAYS, "istio-private-ingressgateway",
                                     "-o", "json"))["status"]["loadBalancer"]["ingress"][0]["ip"]

    def handshake(cert, key, ca):
        return mutual_tls_handshake(mesh.netns("cluster1"), address, 15443, "details.c2.example.com", cert, key, ca)
    assert handshake(old["cluster1.crt"], old["cluster1.key"], old["ca.crt"])
    handshake_per_request(lab, "cluster1")
    with Stall(istiod_pid(lab, lagging)), LoadLoop(proxies["productpage"], DETAILS, 9080, "/details/") as load:
        # one stage, then the rest: a rotation stopped after a stage resumes from the stage it is in
        first = rotate(lab, mesh, "-e", "meshfed_ca_rotation=trust")
        assert "The PKI directory is at stage none; this run: trust." in said(first), said(first)
        assert fingerprints(os.path.join(pki_dir, "trusted-cas.pem"))[0] == old_ca[0]
        assert len(fingerprints(os.path.join(pki_dir, "trusted-cas.pem"))) == 2
        rest = rotate(lab, mesh, "-e", "meshfed_ca_rotation=all")
        assert "The PKI directory is at stage trust; this run: trust, issue, drop." in said(rest), said(rest)
        assert "cluster1: stage issue done, proven on 2 link(s)" in said(rest), said(rest)
        time.sleep(5)
    assert load.statuses[200] >= 20 * load.seconds * 0.5, (load.statuses, load.seconds)
    assert set(load.statuses) == {200}, (load.statuses, load.failures)
    record_load(lab, "CA rotation in stages, %s's istiod stalled" % lagging, load)
    new_ca = fingerprints(os.path.join(pki_dir, "ca.crt"))
    assert new_ca != old_ca and fingerprints(os.path.join(pki_dir, "trusted-cas.pem")) == new_ca
    # cluster2's gateway now trusts the new CA only: cluster1's certificate from before is refused
    new = [os.path.join(pki_dir, name) for name in ("cluster1.crt", "cluster1.key", "ca.crt")]
    assert handshake(*new)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        handshake(old["cluster1.crt"], old["cluster1.key"], new[2])
    # and presents a certificate of the new CA: the old CA alone does not verify it
    with pytest.raises(ssl.SSLError):
        handshake(new[0], new[1], old["ca.crt"])
    # a finished rotation changes nothing when asked for its last stage again
    again = rotate(lab, mesh, "-e", "meshfed_ca_rotation=drop")
    assert "The PKI directory is at stage none; this run: drop." in said(again), said(again)
    assert all(not stats["changed"] for stats in again.stats().values()), again.stats()


def test_unfederation_leaves_the_local_copies(seed, lab):
    mesh, proxies = seed
    play(lab, "unfederate.yml")
    # the local name details is gone from cluster1; reviews is served by the local copy alone
    assert until(lambda: via_sidecar(proxies["productpage"], DETAILS, 9080, "/details/4")[0] in (404, 503), timeout=60)
    versions = collections.Counter()
    for dummy in range(20):
        status, body = via_sidecar(proxies["productpage"], REVIEWS, 9080, "/reviews/1")
        versions[body.get("version") if status == 200 else status] += 1
    assert versions == {"v1": 20}, versions
