# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The caller's identity across organizations (issue 23), on the lab's real mesh: org-b (cluster2) grants its
``whoami`` export to org-a's cluster1 for the caller ``callers/web`` only; the callers travel in org-b's peering
bundle, and org-a's run warns that its import in ``lobby`` has none. Each party has its own inventory, kubeconfig
and CA; only the bundles pass between them (test_organizations.Party)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.peering import envelope as bundle
from ansible_collections.meshfed.federation.tests.integration.mesh import Mesh, until
from ansible_collections.meshfed.federation.tests.integration.test_caller_identity import (
    CALLER, CALLERS, CONSUMER, CONSUMER_SNI, EXPORTED, LOBBY, PORT, ROUNDS, SNEAK, WEB, app, apply_apps, call,
    delete_namespaces, rounds)
from ansible_collections.meshfed.federation.tests.integration.test_organizations import Party, hand_over

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PEERS = {"org-a": ["org-b"], "org-b": ["org-a"]}
GRANT_HOST = "whoami.org-a.c2.example.com"


def host_of(org):
    if org == "org-b":
        return {"meshfed_identity": "c2.example.com", "meshfed_exports": [
            {"name": "whoami", "service": {"namespace": EXPORTED, "name": "whoami", "port": PORT},
             "consumers": [{"cluster": "org-a/cluster1", "callers": ["callers/web"]}]}]}
    return {"meshfed_identity": "c1.example.com", "meshfed_imports": [
        {"name": "whoami", "namespace": namespace, "port": PORT,
         "from": [{"cluster": "org-b/cluster2", "export": "whoami"}]} for namespace in (CALLERS, LOBBY)]}


def write(party, fingerprints=None):
    peers = [dict({"name": peer, "bundle": party.incoming_bundle(peer)},
                  **({"signer_fingerprint": fingerprints[peer]} if fingerprints else {})) for peer in PEERS[party.org]]
    party.write(host=host_of(party.org), peers=peers)


@pytest.fixture(scope="module")
def parties(lab, tmp_path_factory):
    mesh = Mesh(lab)
    if not mesh.state or not mesh.state.get("operator_netns"):
        pytest.fail("the lab runs without its mesh (tools/lab/lab up --no-mesh); run tools/lab/lab up 3", pytrace=False)
    apps = {"cluster1": [app(CALLERS, "web", "web"), app(CALLERS, "sneak", "sneak"), app(LOBBY, "visitor")],
            "cluster2": [app(EXPORTED, "whoami", "whoami", service=True)]}
    apply_apps(lab, apps)
    root = str(tmp_path_factory.mktemp("caller-organizations"))
    parties = dict((org, Party(root, org, lab)) for org in PEERS)
    runs = {}
    try:
        for party in parties.values():  # each on its own, the peer pending
            write(party)
            party.play("federate.yml")
        fingerprints = dict((org, party.fingerprint()) for org, party in parties.items())
        for party in parties.values():
            write(party, fingerprints)
            party.play("peering_bundle.yml")
        hand_over(parties, "org-a", "org-b")
        hand_over(parties, "org-b", "org-a")
        for org in ("org-b", "org-a"):
            runs[org] = parties[org].play("federate.yml")
        proxies = {"web": mesh.wait_ready("cluster1", CALLERS, "web"),
                   "sneak": mesh.wait_ready("cluster1", CALLERS, "sneak"),
                   "visitor": mesh.wait_ready("cluster1", LOBBY, "visitor")}
        mesh.wait_ready("cluster2", EXPORTED, "whoami")
        assert until(lambda: all(call(proxies["web"], CALLERS)[0] == 200 for dummy in range(5)), timeout=180,
                     interval=2)
        yield parties, proxies, runs
    finally:
        failed = dict((org, run.failure()) for org, run in
                      ((org, party.play("unfederate.yml", check=False)) for org, party in parties.items()) if run.rc)
        delete_namespaces(lab, (("cluster1", (CALLERS, LOBBY)), ("cluster2", (EXPORTED,))))
        assert not failed, failed


def test_the_bundle_carries_the_callers_granted(parties):
    parties, dummy, dummy = parties
    with open(parties["org-a"].incoming_bundle("org-b")) as f:
        body, dummy = bundle.verify(bundle.load(f.read()), trust_on_first_use=True)
    consumer, = body["clusters"][0]["exports"][0]["consumers"]
    assert (consumer["cluster"], consumer["callers"], body["trust_domain"]) == ("cluster1", ["callers/web"],
                                                                                "cluster.local"), body


def test_a_forged_caller_header_arrives_at_the_peers_app_as_the_real_caller(parties):
    dummy, proxies, dummy = parties
    statuses, bodies = rounds(proxies["web"], CALLERS, {CALLER: SNEAK, CONSUMER: "forged"})
    assert statuses == {200: ROUNDS}, statuses
    seen = set((b["headers"].get(CALLER), b["headers"].get(CONSUMER), b["headers"].get(CONSUMER_SNI)) for b in bodies)
    assert seen == {(WEB, "spiffe://c1.example.com/meshfed-gateway", GRANT_HOST)}, seen


def test_a_caller_not_granted_gets_403_while_the_granted_one_gets_200(parties):
    dummy, proxies, dummy = parties
    granted, dummy = rounds(proxies["web"], CALLERS)
    refused, dummy = rounds(proxies["sneak"], CALLERS, {CALLER: WEB})
    lobby, dummy = rounds(proxies["visitor"], LOBBY)
    assert (granted, refused, lobby) == ({200: ROUNDS}, {403: ROUNDS}, {403: ROUNDS}), (granted, refused, lobby)


def test_the_consumer_party_is_warned_of_its_import_without_a_caller_granted(parties):
    dummy, dummy, runs = parties
    warned = [w for dummy, dummy, result in runs["org-a"].task_results("service_import", preflight=None)
              for w in result.get("warnings", [])]
    assert [w for w in warned if "import lobby/whoami" in w and "none in namespace lobby" in w], warned
    assert not [w for w in warned if "import callers/whoami" in w], warned


def test_a_rerun_of_each_party_changes_nothing(parties):
    parties, dummy, dummy = parties
    for org in ("org-b", "org-a"):
        again = parties[org].play("federate.yml")
        assert not again.changed_tasks(), (org, again.changed_tasks())
