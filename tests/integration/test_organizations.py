# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Three organizations, three inventories, on the lab's real mesh: org-a runs cluster1, org-b cluster2, org-c
cluster3, each with a kubeconfig holding only its own cluster's context and its own CA. org-b exports details
(to org-a: GET /details/0 only) and reviews v2 (to org-a and org-c). The parties exchange only their signed
peering bundles, as files; each runs federate.yml on its own clusters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import shutil
import ssl
import time

import pytest
import yaml

from ansible_collections.meshfed.federation.plugins.module_utils.peering import envelope as bundle
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.peering_bundle import split_pem
from ansible_collections.meshfed.federation.tests.integration.mesh import (
    LoadLoop, Mesh, bursts_at_once, forged, handshake_per_request, mutual_tls_handshake, quota_in_force, quota_verdict, record_load,
    sample_app, until, via_sidecar)
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OUR_KINDS, REPO, run_playbook, settle_namespace, write_marks)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

GATEWAYS = "istio-private-gateways"
FEDERATION = "xorg"
CLUSTERS = {"org-a": "cluster1", "org-b": "cluster2", "org-c": "cluster3"}
IDENTITIES = {"org-a": "c1.example.com", "org-b": "c2.example.com", "org-c": "c3.example.com"}
PEERS = {"org-a": ["org-b"], "org-b": ["org-a", "org-c"], "org-c": ["org-b"]}
SHOP = "shop"


def exports_of_b(reviews_consumers=("org-a/cluster1", "org-c/cluster3")):
    return [
        {"name": "details", "service": {"namespace": "bookinfo", "name": "details", "port": 9080},
         "path_prefix": "/details",
         "consumers": [{"cluster": "org-a/cluster1", "methods": ["GET"], "paths": ["/details/0"]}]},
        {"name": "reviews-v2", "service": {"namespace": "bookinfo", "name": "myreviews", "port": 9080},
         "subset": {"name": "v2", "labels": {"version": "v2"}}, "consumers": list(reviews_consumers)},
    ]


def cluster_vars(org, reviews_consumers=("org-a/cluster1", "org-c/cluster3")):
    host = {"meshfed_identity": IDENTITIES[org]}
    if org == "org-a":
        host["meshfed_imports"] = [
            {"name": "details", "namespace": "default", "port": 9080,
             "from": [{"cluster": "org-b/cluster2", "export": "details"}]},
            {"name": "remote-reviews", "namespace": "default", "port": 9080,
             "from": [{"cluster": "org-b/cluster2", "export": "reviews-v2"}]}]
    elif org == "org-b":
        host["meshfed_exports"] = exports_of_b(reviews_consumers)
    else:
        host["meshfed_imports"] = [{"name": "reviews", "namespace": SHOP, "port": 9080,
                                    "from": [{"cluster": "org-b/cluster2", "export": "reviews-v2"}]}]
    return host


class Party(object):
    """One organization's files: its inventory, its own kubeconfig (one context), PKI, peer records, the bundles
    it received (incoming) and wrote (outgoing). Only the bundles pass between parties."""

    def __init__(self, root, org, lab):
        self.org = org
        self.cluster = CLUSTERS[org]
        self.root = os.path.join(root, org)
        self.inventory = os.path.join(self.root, "inventory")
        self.kubeconfig = os.path.join(self.root, "kubeconfig")
        self.pki = os.path.join(self.root, "pki")
        self.state = os.path.join(self.root, "peers")
        self.incoming = os.path.join(self.root, "incoming")
        self.outgoing = os.path.join(self.root, "outgoing")
        self.lab = lab
        for path in (self.inventory, self.incoming):
            os.makedirs(os.path.join(path, "group_vars"), exist_ok=True)
        own = lab.kubectl(self.cluster, "config", "view", "--minify", "--flatten")
        with open(self.kubeconfig, "w") as out:
            out.write(own)
        os.chmod(self.kubeconfig, 0o600)

    def incoming_bundle(self, peer):
        return os.path.join(self.incoming, "%s-for-%s.json" % (peer, self.org))

    def write(self, fingerprints=None, host=None, peers=None):
        group_vars = {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "meshfed_federation_name": FEDERATION, "meshfed_party": self.org,
            "meshfed_kubeconfig": self.kubeconfig, "meshfed_context": self.cluster, "meshfed_pki_dir": self.pki,
            "meshfed_peer_state_dir": self.state, "meshfed_bundle_dir": self.outgoing,
            "meshfed_gateway_image": "docker.io/istio/proxyv2:1.28.0",
            "meshfed_peers": peers if peers is not None else [
                dict({"name": peer, "bundle": self.incoming_bundle(peer)},
                     **({"signer_fingerprint": fingerprints[peer]} if fingerprints else {}))
                for peer in PEERS[self.org]],
        }
        with open(os.path.join(self.inventory, "group_vars", "meshfed_clusters.yml"), "w") as out:
            yaml.safe_dump(group_vars, out)
        hosts = {"all": {"children": {"meshfed_clusters": {"hosts": {self.cluster: host or cluster_vars(self.org)}}}}}
        with open(os.path.join(self.inventory, "hosts.yml"), "w") as out:
            yaml.safe_dump(hosts, out)

    def fingerprint(self):
        with open(os.path.join(self.pki, "ca.crt"), "rb") as f:
            return bundle.fingerprint(f.read())

    def play(self, playbook, *extra, **kwargs):
        # the lab's own kubeconfig is not in the environment: each party reaches only its own cluster
        env = {"MESHFED_LAB_DIR": self.lab.dir, "KUBECONFIG": self.kubeconfig}
        run = run_playbook(playbook, self.inventory, *extra, env=env, timeout=900)
        if kwargs.get("check", True):
            assert run.rc == 0, "%s %s: %s\n%s" % (self.org, playbook, run.failure(), run.stderr[-3000:])
        return run

    def marks(self):
        """What a status update by a controller (an HPA's) leaves alone: generation and meshfed's write times."""
        return write_marks(self.lab, self.cluster, "meshfed.io/federation=" + FEDERATION)

    def owned_kind(self, kind):
        """The owned objects of one kind (kind/namespace/name)."""
        return [key for key in self.owned() if key.startswith(kind + "/")]

    def owned(self):
        """kind/namespace/name -> resourceVersion of every object of the federation in this party's cluster (not
        those being deleted: a Namespace goes away some time after its DELETE)."""
        out = self.lab.kubectl(self.cluster, "get", OUR_KINDS, "-A", "-l", "meshfed.io/federation=" + FEDERATION,
                               "-o", "json")
        return dict(("%s/%s/%s" % (i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"]),
                     i["metadata"]["resourceVersion"]) for i in json.loads(out)["items"]
                    if not i["metadata"].get("deletionTimestamp"))


def hand_over(parties, sender, recipient):
    """The one file that passes from one party to another."""
    shutil.copy(os.path.join(parties[sender].outgoing, "%s-for-%s.json" % (sender, recipient)),
                parties[recipient].incoming_bundle(sender))


@pytest.fixture(scope="module")
def parties(lab, tmp_path_factory):
    mesh = Mesh(lab)
    if not mesh.state or not mesh.state.get("operator_netns"):
        pytest.fail("the lab runs without its mesh (tools/lab/lab up --no-mesh); run tools/lab/lab up 3", pytrace=False)
    lab_inventory = os.path.join(REPO, "inventories", "lab")
    samples = run_playbook("lab_sample_apps.yml", lab_inventory, "--limit", "cluster1,cluster2",
                           env={"MESHFED_LAB_DIR": lab.dir}, timeout=900)
    assert samples.rc == 0, samples.stdout[-3000:]
    settle_namespace(lab, "cluster3", SHOP)  # the last run's may still be going away
    lab.kubectl("cluster3", "apply", "-f", "-", input=sample_app(SHOP, "shopper"))
    for context in CLUSTERS.values():
        settle_namespace(lab, context, GATEWAYS)
    root = str(tmp_path_factory.mktemp("organizations"))
    parties = dict((org, Party(root, org, lab)) for org in CLUSTERS)
    try:
        fingerprints = exchange(parties)
        proxies = {
            "productpage": mesh.wait_ready("cluster1", "default", "productpage-v1"),
            "shopper": mesh.wait_ready("cluster3", SHOP, "shopper"),
            "ingress": mesh.wait_ready("cluster2", GATEWAYS, "istio-private-ingressgateway"),
        }
        for prefix in ("details-v1", "reviews-v2"):
            mesh.wait_ready("cluster2", "bookinfo", prefix)
        # converged: every link answers, five times in a row (a gateway replaced by the previous run may still go)
        links = [(proxies["productpage"], "details.default.svc.cluster.local", "/details/0"),
                 (proxies["productpage"], "remote-reviews.default.svc.cluster.local", "/reviews/0"),
                 (proxies["shopper"], "reviews.%s.svc.cluster.local" % SHOP, "/reviews/0")]
        assert until(lambda: all(via_sidecar(proxy, host, 9080, path)[0] == 200
                                 for dummy in range(5) for proxy, host, path in links), timeout=180, interval=2)
        yield parties, fingerprints, mesh, proxies
    finally:
        # the other tests' federations use the same gateway namespace: leave nothing of this one behind
        failed = dict((org, run.failure()) for org, run in
                      ((org, party.play("unfederate.yml", check=False)) for org, party in parties.items()) if run.rc)
        lab.kubectl_run("cluster3", "delete", "namespace", SHOP, "--wait=false")
        assert not failed, failed
        for org, party in parties.items():
            assert not party.owned(), (org, party.owned())


def exchange(parties):
    """The whole peering, as the parties do it; the CAs' fingerprints (given out of band)."""
    # each party federates on its own: the peers are pending (no bundle yet), their gateways come up
    for party in parties.values():
        party.write()
        party.play("federate.yml")
    fingerprints = dict((org, party.fingerprint()) for org, party in parties.items())
    for party in parties.values():
        party.write(fingerprints)
        party.play("peering_bundle.yml")
    for sender, recipients in PEERS.items():
        for recipient in recipients:
            hand_over(parties, sender, recipient)
    for org in ("org-b", "org-a", "org-c"):
        parties[org].play("federate.yml")
    return fingerprints


def test_each_party_holds_only_its_own_cluster_and_its_own_keys(parties):
    parties, fingerprints, dummy, dummy = parties
    for org, party in parties.items():
        with open(party.kubeconfig) as f:
            config = yaml.safe_load(f)
        assert [c["name"] for c in config["contexts"]] == [party.cluster]
        keys = sorted(name for name in os.listdir(party.pki) if name.endswith(".key"))
        assert keys == ["ca.key", "%s.key" % party.cluster], (org, keys)
        for name in keys:
            assert os.stat(os.path.join(party.pki, name)).st_mode & 0o777 == 0o600
    assert len(set(fingerprints.values())) == 3  # one CA per party
    for sender, recipients in PEERS.items():
        for recipient in recipients:
            with open(parties[recipient].incoming_bundle(sender)) as f:
                text = f.read()
            assert "PRIVATE KEY" not in text
            body, signer = bundle.verify(bundle.load(text), pinned=fingerprints[sender], recipient=recipient)
            assert signer == fingerprints[sender] and body["issuer"] == sender


def test_requests_flow_across_organizations(parties):
    dummy, dummy, dummy, proxies = parties
    status, body = via_sidecar(proxies["productpage"], "details.default.svc.cluster.local", 9080, "/details/0")
    assert status == 200 and body["namespace"] == "bookinfo", body
    for name, proxy, host in (("org-a", proxies["productpage"], "remote-reviews.default.svc.cluster.local"),
                              ("org-c", proxies["shopper"], "reviews.%s.svc.cluster.local" % SHOP)):
        answers = [via_sidecar(proxy, host, 9080, "/reviews/%d" % i) for i in range(5)]
        assert all(status == 200 for status, dummy in answers), (name, answers)
        assert {b["version"] for dummy, b in answers} == {"v2"}, (name, answers)


def test_granted_method_and_path_only(parties):
    dummy, dummy, dummy, proxies = parties
    host = "details.default.svc.cluster.local"
    assert via_sidecar(proxies["productpage"], host, 9080, "/details/0")[0] == 200
    assert via_sidecar(proxies["productpage"], host, 9080, "/details/0", method="POST")[0] == 403
    assert via_sidecar(proxies["productpage"], host, 9080, "/details/1")[0] == 403


def gateway_secrets(lab, cluster):
    """name -> the keys of each Secret of the federation in a cluster's gateway namespace."""
    out = lab.kubectl(cluster, "get", "secrets", "-n", GATEWAYS, "-l", "meshfed.io/federation=" + FEDERATION,
                      "-o", "json")
    return dict((s["metadata"]["name"], sorted(s["data"])) for s in json.loads(out)["items"])


ONE_KEY = {"c2-example-com-certs": ["ca.crt", "tls.crt", "tls.key"],
           "c2-example-com-org-a-certs-cacert": ["ca.crt"], "c2-example-com-org-c-certs-cacert": ["ca.crt"]}


def test_the_exporters_key_is_in_one_secret_and_a_change_of_layout_fails_no_request(parties, lab):
    """The lab's istiod is 1.31: org-b's ingress servers take each consumer party's CA from a Secret holding that CA
    alone (caCertCredentialName), so its private key is in one Secret. Told its Istio is older
    (meshfed_istio_version=1.27) it copies the key into one Secret per consumer party, as before 1.28; both ways,
    org-a and org-c send requests through the change, each a new handshake, and none fails."""
    parties_, dummy, dummy, proxies = parties
    org_b = parties_["org-b"]
    assert gateway_secrets(lab, "cluster2") == ONE_KEY
    gateway = json.loads(lab.kubectl("cluster2", "get", "gateways.networking.istio.io", "-n", GATEWAYS,
                                     "meshfed-export-reviews-v2", "-o", "json"))
    assert sorted((s["tls"]["credentialName"], s["tls"]["caCertCredentialName"]) for s in gateway["spec"]["servers"]) == [
        ("c2-example-com-certs", "c2-example-com-org-a-certs-cacert"),
        ("c2-example-com-certs", "c2-example-com-org-c-certs-cacert")]
    for cluster in ("cluster1", "cluster3"):
        handshake_per_request(lab, cluster)
    loops = [LoadLoop(proxies["productpage"], "remote-reviews.default.svc.cluster.local", 9080, "/reviews/", rate=10),
             LoadLoop(proxies["shopper"], "reviews.%s.svc.cluster.local" % SHOP, 9080, "/reviews/", rate=10)]
    for loop in loops:
        loop.__enter__()
    try:
        time.sleep(2)
        org_b.play("federate.yml", "-e", "meshfed_istio_version=1.27")
        copies = gateway_secrets(lab, "cluster2")
        time.sleep(5)
        org_b.play("federate.yml")
        time.sleep(5)
    finally:
        for loop in loops:
            loop.stop()
    assert copies == {"c2-example-com-certs": ["ca.crt", "tls.crt", "tls.key"],
                      "c2-example-com-org-a-certs": ["ca.crt", "tls.crt", "tls.key"],
                      "c2-example-com-org-c-certs": ["ca.crt", "tls.crt", "tls.key"]}
    assert gateway_secrets(lab, "cluster2") == ONE_KEY
    for loop in loops:
        assert loop.statuses[200] >= 10 * loop.seconds * 0.5, (loop.statuses, loop.seconds)
        assert set(loop.statuses) == {200}, (loop.statuses, loop.failures)
    record_load(lab, "organizations: org-b's key layout 1.31 -> 1.27 -> 1.31 (org-a, org-c)", loops)
    for party in ("org-a", "org-c"):
        parties_[party].play("federate.yml")  # their egress rules as meshfed writes them


def ingress_address(lab):
    service = json.loads(lab.kubectl("cluster2", "get", "service", "-n", GATEWAYS, "istio-private-ingressgateway",
                                     "-o", "json"))
    return service["status"]["loadBalancer"]["ingress"][0]["ip"]


def test_one_party_ca_cannot_impersonate_another_party(parties, lab, tmp_path):
    parties, dummy, mesh, dummy = parties
    operator, address = mesh.state["operator_netns"], ingress_address(lab)
    org_b_ca = os.path.join(parties["org-b"].pki, "ca.crt")
    sni_c = "reviews-v2.org-c.c2.example.com"
    c_cert = os.path.join(parties["org-c"].pki, "cluster3.crt")
    c_key = os.path.join(parties["org-c"].pki, "cluster3.key")
    # org-c's own certificate passes on org-c's server
    assert mutual_tls_handshake(operator, address, 15443, sni_c, c_cert, c_key, org_b_ca)
    cert, key = forged(tmp_path, parties["org-a"].pki, "c3.example.com")
    for sni in (sni_c, "reviews-v2.org-a.c2.example.com"):
        with pytest.raises((ssl.SSLError, OSError)):
            mutual_tls_handshake(operator, address, 15443, sni, cert, key, org_b_ca)


def refused_without_change(party, mutate_bundle, tmp_path, words):
    """federate.yml with the bundle from org-b changed by ``mutate_bundle``: refused naming the peer and ``words``,
    nothing in the cluster changed; the original bundle back, a run changes nothing."""
    path = party.incoming_bundle("org-b")
    with open(path) as f:
        original = f.read()
    before = party.marks()
    with open(path, "w") as f:
        f.write(mutate_bundle(original))
    try:
        run = party.play("federate.yml", check=False)
        assert run.rc != 0
        message = run.failure()
        for word in ["peer org-b", "meshfed_peers[0]"] + list(words):
            assert word in message, message
        assert party.marks() == before
    finally:
        with open(path, "w") as f:
            f.write(original)


def org_b_key(parties):
    with open(os.path.join(parties["org-b"].pki, "ca.crt")) as f:
        cert = f.read()
    with open(os.path.join(parties["org-b"].pki, "ca.key")) as f:
        key = f.read()
    return cert, key


def test_a_tampered_expired_or_misaddressed_bundle_is_refused_with_nothing_changed(parties, tmp_path):
    parties_, dummy, dummy, dummy = parties
    party = parties_["org-a"]
    cert, key = org_b_key(parties_)

    def tampered(text):
        return text.replace("details.org-a.c2.example.com", "details.org-x.c2.example.com")

    def expired(text):
        body = bundle.load(text)["body"]
        body.update(issued_at="2026-01-01T00:00:00Z", expires_at="2026-02-01T00:00:00Z")
        return bundle.dump(bundle.sign(body, cert, key))

    def misaddressed(text):
        with open(os.path.join(parties_["org-b"].outgoing, "org-b-for-org-c.json")) as f:
            return f.read()

    refused_without_change(party, tampered, tmp_path, ["signature.value"])
    refused_without_change(party, expired, tmp_path, ["body.expires_at", "expired"])
    refused_without_change(party, misaddressed, tmp_path, ["body.recipient", "org-c"])
    assert not party.play("federate.yml").changed_tasks()


def trusted_for(lab, cluster, secret):
    """The fingerprints of the CAs a gateway Secret trusts (its ca.crt)."""
    data = json.loads(lab.kubectl(cluster, "get", "secret", "-n", GATEWAYS, secret, "-o", "json"))["data"]["ca.crt"]
    text = base64.b64decode(data).decode()
    return [bundle.fingerprint(pem) for pem in split_pem(text)]


def test_a_party_rotates_its_ca_in_stages_with_its_peers_and_no_request_fails(parties, lab):
    """org-b rotates its CA in stages while org-a and org-c send requests to its exports, each a new handshake.
    Between the stages only bundles pass: they carry both CAs during the overlap, and org-b's peers pin the old and
    the new signer once the new CA signs."""
    parties_, fingerprints, dummy, proxies = parties
    org_b = parties_["org-b"]
    old = fingerprints["org-b"]
    for cluster in ("cluster1", "cluster3"):
        handshake_per_request(lab, cluster)
    loops = [LoadLoop(proxies["productpage"], "remote-reviews.default.svc.cluster.local", 9080, "/reviews/", rate=10),
             LoadLoop(proxies["shopper"], "reviews.%s.svc.cluster.local" % SHOP, 9080, "/reviews/", rate=10)]

    def peers_apply(pins):
        org_b.play("peering_bundle.yml")
        for peer in ("org-a", "org-c"):
            hand_over(parties_, "org-b", peer)
            parties_[peer].write(dict(fingerprints, **{"org-b": pins}))
            parties_[peer].play("federate.yml")
    for loop in loops:
        loop.__enter__()
    try:
        # with peers, all runs one stage at a time: here trust
        trust = org_b.play("rotate_certificates.yml", "-e", "meshfed_ca_rotation=all")
        assert "this run: trust." in str(list(trust.task_results("debug"))), "with peers, one stage at a time"
        new = bundle.fingerprint(open(os.path.join(org_b.pki, "next", "ca.crt")).read())
        peers_apply(old)  # still signed by the old CA, with both CAs
        assert trusted_for(lab, "cluster1", "c1-example-com-org-b-certs") == [old, new]
        org_b.play("rotate_certificates.yml", "-e", "meshfed_ca_rotation=issue")
        assert org_b.fingerprint() == new
        # the next bundles are signed by the new CA: a peer pinning the old one alone refuses them
        org_b.play("peering_bundle.yml")
        hand_over(parties_, "org-b", "org-a")
        refused = parties_["org-a"].play("federate.yml", check=False)
        assert refused.rc != 0 and "signed by %s, but the pinned signer is %s" % (new, old) in refused.failure(), \
            refused.failure()
        peers_apply([old, new])
        org_b.play("rotate_certificates.yml", "-e", "meshfed_ca_rotation=drop")
        peers_apply([old, new])
        time.sleep(5)
    finally:
        for loop in loops:
            loop.stop()
    for loop in loops:
        assert loop.statuses[200] >= 10 * loop.seconds * 0.5, (loop.statuses, loop.seconds)
        assert set(loop.statuses) == {200}, (loop.statuses, loop.failures)
    assert trusted_for(lab, "cluster1", "c1-example-com-org-b-certs") == [new]
    assert trusted_for(lab, "cluster3", "c3-example-com-org-b-certs") == [new]
    record_load(lab, "organizations: org-b's CA in stages (org-a, org-c)", loops)
    fingerprints["org-b"] = new  # what the next tests pin


QUOTA = 5


def with_reviews_consumers(consumers):
    host = cluster_vars("org-b")
    host["meshfed_exports"][1]["consumers"] = consumers
    return host


def federate_twice(party):
    """federate.yml, then again: the second run changes nothing."""
    party.play("federate.yml")
    again = party.play("federate.yml")
    assert all(s["changed"] == 0 for s in again.stats().values()), (again.stats(), again.changed_tasks())


def test_a_quota_and_a_drain_per_consumer_across_organizations(parties, lab):
    """org-b limits org-a's cluster1 to QUOTA requests a second on reviews-v2 (a server of its own: org-a's party),
    then drains org-c's cluster3: a burst of 3 x QUOTA for each ingress replica from each at once (org-a: QUOTA to
    QUOTA x replicas x (2 + seconds) answers 200, the rest 429; org-c: all 200), then org-c 403 and org-a 200; org-c's status, once it has org-b's
    new bundle, shows the link drained and not down; the inventory back: org-c served again. Every change through
    org-b's federate.yml, re-runs changed=0; the consumers run nothing for the quota or the drain."""
    parties_, dummy, mesh, proxies = parties
    org_b, org_c = parties_["org-b"], parties_["org-c"]
    pins = dict((org, p.fingerprint()) for org, p in parties_.items())
    reviews_a = (proxies["productpage"], "remote-reviews.default.svc.cluster.local", 9080)
    reviews_c = (proxies["shopper"], "reviews.%s.svc.cluster.local" % SHOP, 9080)
    try:
        org_b.write(host=with_reviews_consumers(
            [{"cluster": "org-a/cluster1", "quota": {"requests_per_second": QUOTA}}, "org-c/cluster3"]), fingerprints=pins)
        federate_twice(org_b)
        assert not mesh.rejected_updates(mesh.wait_ready("cluster2", GATEWAYS, "istio-private-ingressgateway"))
        # each ingress replica has its own bucket (docs/design.md): bursts of 3 x QUOTA a replica, bounded by all
        replicas = mesh.replicas("cluster2", GATEWAYS, "istio-private-ingressgateway")
        # the quota holds once the gateway has it: a burst that is limited, after a second without requests

        def limited_burst():
            time.sleep(1.5)
            return not quota_in_force(bursts_at_once(3 * QUOTA * replicas, reviews_a)[0], QUOTA, replicas)
        assert until(limited_burst, timeout=90, interval=0)
        time.sleep(1.5)
        limited, free = bursts_at_once(3 * QUOTA * replicas, reviews_a, reviews_c)
        assert not quota_verdict(limited, QUOTA, replicas), (quota_verdict(limited, QUOTA, replicas), replicas, limited)
        assert [s for s, dummy in free["answers"]] == [200] * 3 * QUOTA * replicas, free
        org_b.write(host=with_reviews_consumers(["org-a/cluster1", {"cluster": "org-c/cluster3", "state": "drained"}]),
                    fingerprints=pins)
        federate_twice(org_b)
        assert until(lambda: via_sidecar(reviews_c[0], reviews_c[1], 9080, "/reviews/1")[0] == 403, timeout=60)
        answers = [(via_sidecar(reviews_a[0], reviews_a[1], 9080, "/reviews/%d" % i)[0],
                    via_sidecar(reviews_c[0], reviews_c[1], 9080, "/reviews/%d" % i)[0]) for i in range(8)]
        assert answers == [(200, 403)] * 8, answers
        # org-c learns it from org-b's bundle: its status shows the link drained, not down
        org_b.play("peering_bundle.yml", "-e", "meshfed_bundle_for=org-c")
        hand_over(parties_, "org-b", "org-c")
        status = run_playbook("status.yml", org_c.inventory, env={"MESHFED_LAB_DIR": lab.dir, "KUBECONFIG": org_c.kubeconfig},
                              netns=mesh.state["operator_netns"], timeout=300)
        assert status.rc == 0, status.failure() + status.stdout[-3000:]
        (cluster,) = [res["cluster"] for dummy, dummy, res in status.task_results("federation_info")
                      if "links" in res.get("cluster", {})]
        assert [(link["export"], link["state"], link["down"]) for link in cluster["links"]] == [("reviews-v2", "drained", False)]
        assert cluster["links_down"] == 0
    finally:
        org_b.write(fingerprints=pins)
        org_b.play("federate.yml")
        org_b.play("peering_bundle.yml", "-e", "meshfed_bundle_for=org-c")
        hand_over(parties_, "org-b", "org-c")
    assert until(lambda: via_sidecar(reviews_c[0], reviews_c[1], 9080, "/reviews/1")[0] == 200, timeout=60)
    assert all(via_sidecar(reviews_a[0], reviews_a[1], 9080, "/reviews/%d" % i)[0] == 200 for i in range(3 * QUOTA))
    assert not org_b.owned_kind("EnvoyFilter")


FAILOVER_NS = "fo"


def copy_of(pod):
    """Which copy answered: org-b's reviews-v2 or org-a's own reviews."""
    return None if not pod else "org-b" if pod.startswith("reviews-v2") else "org-a"


def test_a_failover_import_across_organizations_moves_to_the_peer_when_the_local_app_dies(parties, lab):
    """org-a's own reviews (a sample app of namespace fo) as a failover import, org-b's reviews-v2 second: with the
    local app killed every request is served by org-b's cluster2 through the leg (org-a's credential for org-b,
    org-b's identity pinned, org-a's grant host); started again, served locally. Re-runs changed=0."""
    parties_, dummy, mesh, dummy = parties
    org_a = parties_["org-a"]
    pins = dict((org, p.fingerprint()) for org, p in parties_.items())
    settle_namespace(lab, "cluster1", FAILOVER_NS)
    lab.kubectl("cluster1", "apply", "-f", "-", input=sample_app(FAILOVER_NS, "reviews", "http", 9080, "http")
                + "\n---\n" + sample_app(FAILOVER_NS, "client"))
    host = cluster_vars("org-a")
    host["meshfed_imports"].append({"name": "reviews", "namespace": FAILOVER_NS, "port": 9080, "local": {},
                                    "mode": "failover", "from": [{"cluster": "org-b/cluster2", "export": "reviews-v2"}]})
    name = "reviews.%s.svc.cluster.local" % FAILOVER_NS
    try:
        client = mesh.wait_ready("cluster1", FAILOVER_NS, "client")
        mesh.wait_ready("cluster1", FAILOVER_NS, "reviews-")
        org_a.write(host=host, fingerprints=pins)
        org_a.play("federate.yml")
        again = org_a.play("federate.yml")
        assert all(s["changed"] == 0 for s in again.stats().values()), (again.stats(), again.changed_tasks())

        def answered(count):
            return [copy_of(body.get("pod")) if status == 200 else status for status, body in
                    (via_sidecar(client, name, 9080, "/reviews/%d" % i) for i in range(count))]
        assert until(lambda: answered(5) == ["org-a"] * 5, timeout=90)
        with LoadLoop(client, name, 9080, "/reviews/", rate=20, max_count=1200, max_seconds=60) as load:
            assert until(lambda: len(load.answers) >= 20, timeout=10)
            killed = time.time() - load.started
            lab.run_lab(["fault", "app-kill", "cluster1", "%s/reviews-" % FAILOVER_NS])
            try:
                assert until(lambda: [copy_of(pod) for at, status, pod in load.answers if at > killed][-10:]
                             == ["org-b"] * 10, timeout=20), load.statuses
                time.sleep(3)
            finally:
                lab.run_lab(["fault", "app-start", "cluster1", "%s/reviews-" % FAILOVER_NS])
        failed = [(at, status) for at, status, dummy in load.answers if status != 200]
        record_load(lab, "organizations: a failover import, the local app killed", load)
        print("organizations failover: %d sent, %d failed %s" % (len(load.answers), len(failed), failed))
        assert len(failed) <= 3, failed
        assert until(lambda: answered(5) == ["org-a"] * 5, timeout=60)
    finally:
        org_a.write(fingerprints=pins)
        org_a.play("federate.yml")
        lab.kubectl_run("cluster1", "delete", "namespace", FAILOVER_NS, "--wait=false")


def test_a_withdrawn_export_shows_in_the_check_run_and_is_pruned(parties):
    parties_, dummy, dummy, proxies = parties
    org_a, org_b = parties_["org-a"], parties_["org-b"]
    org_b.write(host=cluster_vars("org-b", reviews_consumers=("org-c/cluster3",)),
                fingerprints=dict((org, p.fingerprint()) for org, p in parties_.items()))
    org_b.play("federate.yml")
    org_b.play("peering_bundle.yml", "-e", "meshfed_bundle_for=org-a")
    hand_over(parties_, "org-b", "org-a")
    check = org_a.play("federate.yml", "--check")
    model = [res for dummy, dummy, res in check.task_results("federation_model")][0]
    assert "cluster2: export reviews-v2 removed" in model["peer_changes"]["org-b"], model["peer_changes"]
    imports = [res for dummy, dummy, res in check.task_results("service_import")][0]
    assert imports["changed"] and any("remote-reviews" in name for name in imports.get("deleted", [])), imports
    assert "VirtualService/default/remote-reviews" in org_a.owned()  # the check changed nothing
    org_a.play("federate.yml")
    owned = org_a.owned()
    assert "VirtualService/default/remote-reviews" not in owned and "VirtualService/default/details" in owned
    assert via_sidecar(proxies["productpage"], "details.default.svc.cluster.local", 9080, "/details/0")[0] == 200
    # org-c keeps its grant
    assert via_sidecar(proxies["shopper"], "reviews.%s.svc.cluster.local" % SHOP, 9080, "/reviews/1")[0] == 200
