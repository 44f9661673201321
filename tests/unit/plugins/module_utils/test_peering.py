# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the peers' bundles (read_peers): pending until the file is there, every refusal naming the
meshfed_peers entry, the peer and the bundle field; the record of the bundles applied (record): what a peer
changed since, and the signer trusted on first use pinned from then on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.peering import envelope as bundle
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends import validated_model as handover
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError
from ansible_collections.meshfed.federation.plugins.module_utils.model.peers import bundle_body
from ansible_collections.meshfed.federation.plugins.module_utils.peering.records import record, record_path
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.peering_bundle import split_pem

from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.parties import (
    DAY, NOW, ORG_A, ORG_B, Party, federate, hand_over, make_ca, peer_entry, peer_path, write)


@pytest.fixture(scope="module")
def cas():
    return dict((name, make_ca(name)) for name in ("org-a", "org-b", "org-c", "mallory"))


@pytest.fixture
def two(tmp_path, cas):
    """org-a and org-b federated, their bundles in tmp_path: (a, b, org-a's full model, org-b's full model)."""
    a, b = Party("org-a", ORG_A, cas["org-a"]), Party("org-b", ORG_B, cas["org-b"])
    dummy, full = federate(tmp_path, [a, b])
    return a, b, full["org-a"], full["org-b"]


def b_path(tmp_path, two):
    a, b = two[:2]
    return peer_path(tmp_path, b, a)


def only_problem(a, raw_peers, state_dir=None, now=NOW):
    peers, problems, changes = a.read(raw_peers, state_dir, now)
    assert len(problems) == 1, problems
    return peers, problems[0]


def rewrite(path, change):
    """The bundle file at ``path`` changed by ``change(document)`` after it was signed."""
    with open(path) as handle:
        document = json.load(handle)
    change(document)
    write(os.path.dirname(path), os.path.basename(path), document)


# --------------------------------------------------------------------------- reading


def test_a_bundle_file_not_handed_yet_leaves_the_peer_pending(tmp_path, cas):
    a, b = Party("org-a", ORG_A, cas["org-a"]), Party("org-b", ORG_B, cas["org-b"])
    entry = peer_entry(b, str(tmp_path / "not-yet.json"))
    assert a.read([entry]) == ([{"name": "org-b", "where": "meshfed_peers[0] (org-b)", "bundle": None,
                                 "signer": None, "previous": None, "withdrawn": []}], [], {})


def test_a_verified_bundle_gives_its_body_and_the_signer_fingerprint(tmp_path, two):
    a, b, dummy, fed_b = two
    peers, problems, changes = a.read([peer_entry(b, b_path(tmp_path, two))])
    assert (problems, changes) == ([], {})
    entry, = peers
    assert entry["bundle"] == b.body_for(fed_b, "org-a")
    assert entry["signer"] == b.fingerprint == bundle.fingerprint(b.ca[0])


def test_a_fingerprint_pinned_with_colons_and_in_capitals_is_the_same_pin(tmp_path, two):
    a, b = two[:2]
    written = pki.fingerprint_sha256(pki.load_cert(b.ca[0].encode("ascii")))  # AB:CD:... as openssl prints it
    peers, problems, dummy = a.read([peer_entry(b, b_path(tmp_path, two), pinned=False, signer_fingerprint=written)])
    assert problems == [] and peers[0]["signer"] == b.fingerprint


def refused_bundle(tmp_path, two, cas, case):
    """(meshfed_peers, now) of org-a for one way org-b's bundle is refused."""
    a, b = two[:2]
    path = b_path(tmp_path, two)
    entry, now = peer_entry(b, path), NOW
    if case == "another recipient":
        write(tmp_path, os.path.basename(path), b.bundle_for(two[3], "org-c"))
    elif case == "tampered":
        rewrite(path, lambda d: d["body"]["clusters"][0]["exports"][0].update(host="evil.example.com"))
    elif case == "expired":
        now = NOW + 31 * DAY
    elif case == "wrong pin":
        entry["signer_fingerprint"] = cas["mallory"][2]
    elif case == "not pinned":
        del entry["signer_fingerprint"]
    elif case == "another issuer":
        c = Party("org-c", {}, cas["org-c"])
        write(tmp_path, os.path.basename(path), c.sign(dict(b.body_for(two[3], "org-a"), issuer="org-c")))
        entry["signer_fingerprint"] = c.fingerprint
    return [entry], now


@pytest.mark.parametrize("case, field, message", [
    ("another recipient", "body.recipient", "bundle is for org-c, not for org-a"),
    ("tampered", "signature.value", "does not verify with the signer's key: the bundle was changed after signing, or "
                                    "it was signed by another key"),
    ("expired", "body.expires_at", "the bundle expired on 2027-01-09T03:00:00Z, 1 day ago; ask org-b for a new one"),
    ("wrong pin", "signature.signer", "signed by {b}, but the pinned signer is {mallory}"),
    ("not pinned", "signature.signer", "the signer {b} is not pinned: check this fingerprint with the issuer out of band "
                                       "and pin it (signer_fingerprint: {b}), or allow trust on first use"),
    ("another issuer", "body.issuer", "bundle is from org-c, not from org-b"),
])
def test_a_refused_bundle_names_the_meshfed_peers_entry_the_peer_and_the_bundle_field(
        tmp_path, two, cas, case, field, message):
    raw_peers, now = refused_bundle(tmp_path, two, cas, case)
    peers, problem = only_problem(two[0], raw_peers, now=now)
    assert [(p["name"], p["bundle"]) for p in peers] == [("org-b", None)]  # kept, without a bundle
    assert problem == "peer org-b (meshfed_peers[0] (org-b).bundle %s): bundle field %s: %s" % (
        b_path(tmp_path, two), field, message.format(b=two[1].fingerprint, mallory=cas["mallory"][2]))


def test_the_model_reports_a_refused_bundle_with_the_inventory_s_problems(tmp_path, two, cas):
    raw_peers, now = refused_bundle(tmp_path, two, cas, "tampered")
    with pytest.raises(FederationModelError) as caught:
        two[0].model_from(raw_peers, now=now)
    assert caught.value.errors[0].startswith("peer org-b (meshfed_peers[0] (org-b).bundle ")
    assert "bundle field signature.value" in caught.value.errors[0]


def test_a_refused_bundle_is_not_also_reported_as_a_peer_meshfed_peers_does_not_list(tmp_path, two, cas):
    raw_peers, now = refused_bundle(tmp_path, two, cas, "tampered")
    with pytest.raises(FederationModelError) as caught:
        two[0].model_from(raw_peers, now=now)
    assert not [e for e in caught.value.errors if "meshfed_peers does not list" in e]


def test_an_unknown_field_of_a_meshfed_peers_entry_is_reported_and_the_bundle_still_read(tmp_path, two):
    a, b = two[:2]
    peers, problem = only_problem(a, [peer_entry(b, b_path(tmp_path, two), fingerprint="sha256:00")])
    assert problem == ("meshfed_peers[0] (org-b): unknown field 'fingerprint' (allowed: name, bundle, document, "
                       "signer_fingerprint, trust_on_first_use)")
    assert peers[0]["signer"] == b.fingerprint


@pytest.mark.parametrize("raw_peers, problem", [
    ({"name": "org-b"}, "meshfed_peers must be a list of {name, bundle, signer_fingerprint}"),
    (["org-b"], "meshfed_peers[0]: must be a mapping with name, bundle and signer_fingerprint"),
    ([{"name": "Org_B", "bundle": "x.json"}], "meshfed_peers[0] (Org_B): name 'Org_B' is not a valid DNS-1123 label "
                                              "(the peer party's name)"),
    ([{"name": "org-b", "bundle": ""}], "meshfed_peers[0] (org-b): bundle must be the path of the peer's bundle file"),
])
def test_a_malformed_meshfed_peers_entry_names_its_place(raw_peers, problem, cas):
    peers, problems, changes = Party("org-a", ORG_A, cas["org-a"]).read(raw_peers)
    assert problems == [problem] and changes == {}
    assert all(p["bundle"] is None for p in peers)  # nothing read from a malformed entry


def test_a_bundle_path_that_cannot_be_read_is_not_taken_for_pending(tmp_path, cas):
    a, b = Party("org-a", ORG_A, cas["org-a"]), Party("org-b", ORG_B, cas["org-b"])
    peers, problem = only_problem(a, [peer_entry(b, str(tmp_path))])
    assert problem == "meshfed_peers[0] (org-b): bundle %s cannot be read: Is a directory" % tmp_path


# --------------------------------------------------------------------------- the record, changes, trust on first use


def test_record_writes_each_verified_bundle_with_its_signer_once(tmp_path, two):
    a, b, fed_a = two[:3]
    state = str(tmp_path / "state")
    assert record(state, fed_a.peers, check_mode=True) == ["org-b"] and not os.path.exists(state)
    assert record(state, fed_a.peers) == ["org-b"]
    with open(record_path(state, "org-b")) as handle:
        assert json.load(handle) == {"signer": b.fingerprint, "body": fed_a.peers["org-b"].bundle, "withdrawn": []}
    assert record(state, fed_a.peers) == []


def test_a_pending_peer_is_not_recorded(tmp_path, cas):
    a = Party("org-a", ORG_A, cas["org-a"])
    pending = a.model([{"name": "org-b", "where": "meshfed_peers[0] (org-b)", "bundle": None, "signer": None}])
    assert record(str(tmp_path), pending.peers) == [] and os.listdir(str(tmp_path)) == []


def test_changes_say_what_the_peer_changed_since_the_recorded_bundle(tmp_path, two):
    a, b, fed_a = two[:3]
    state = str(tmp_path / "state")
    entry = peer_entry(b, b_path(tmp_path, two))
    assert a.read([entry], state)[2] == {}  # nothing recorded yet: nothing to compare with
    record(state, fed_a.peers)
    # org-b hands the same grant again later: new times, nothing changed
    hand_over(tmp_path, b, two[3], a, now=NOW + DAY)
    assert a.read([entry], state, NOW + DAY)[2] == {"org-b": []}
    # org-b stops exporting reviews-v2 and signs again
    without = Party("org-b", dict(ORG_B, cluster2=dict(ORG_B["cluster2"], exports=[])), b.ca)
    hand_over(tmp_path, without, without.model_from([peer_entry(a, peer_path(tmp_path, a, b))]), a)
    peers, problems, changes = a.read([entry], state)
    # with nothing left to serve us, its bundle no longer says where its gateway is
    assert problems == [] and changes == {"org-b": ["cluster2: gateway address 203.0.113.2:15443 -> none",
                                                    "cluster2: export reviews-v2 removed"]}


def test_trust_on_first_use_accepts_the_first_signer_and_refuses_another_once_recorded(tmp_path, two, cas):
    a, b, fed_a, fed_b = two
    state = str(tmp_path / "state")
    entry = peer_entry(b, b_path(tmp_path, two), pinned=False, trust_on_first_use=True)
    peers, problems, dummy = a.read([entry], state)
    assert problems == [] and peers[0]["signer"] == b.fingerprint
    record(state, a.model(peers).peers)
    # the same body signed by another key at org-b's path
    mallory = Party("org-b", ORG_B, cas["mallory"])
    write(tmp_path, os.path.basename(b_path(tmp_path, two)), mallory.sign(b.body_for(fed_b, "org-a")))
    peers, problem = only_problem(a, [entry], state)
    assert [p["bundle"] for p in peers] == [None]
    assert problem == ("peer org-b (meshfed_peers[0] (org-b).bundle %s): bundle field signature.signer: signed by %s, "
                       "but the pinned signer is %s" % (b_path(tmp_path, two), mallory.fingerprint, b.fingerprint))


def test_without_trust_on_first_use_a_record_pins_nothing(tmp_path, two):
    a, b, fed_a = two[:3]
    state = str(tmp_path / "state")
    record(state, fed_a.peers)
    peers, problem = only_problem(a, [peer_entry(b, b_path(tmp_path, two), pinned=False)], state)
    assert "bundle field signature.signer: the signer %s is not pinned" % b.fingerprint in problem


# --------------------------------------------------------------------------- as federation_model reads them


def test_the_description_s_peers_are_read_verified_and_their_changes_reported(tmp_path, cas):
    now = pki.utcnow()
    a, b = Party("org-a", ORG_A, cas["org-a"]), Party("org-b", ORG_B, cas["org-b"])
    dummy, full = federate(tmp_path, [a, b], now=now)
    state = str(tmp_path / "state")
    record(state, full["org-a"].peers)
    description = {"clusters": copy.deepcopy(ORG_A), "settings": a.settings(),
                   "peers": [peer_entry(b, peer_path(tmp_path, b, a))]}
    federation, changes = handover.read_federation(description, state)
    assert federation.peers["org-b"].signer == b.fingerprint
    assert federation.clusters["cluster1"].imports[0].sources[0].cluster == "org-b/cluster2"
    assert changes == {"org-b": []}


def test_during_a_ca_rotation_the_bundle_carries_both_cas_and_either_pinned_signer_is_accepted(tmp_path, two, cas):
    a, b, dummy, fed_b = two
    new_ca = make_ca("org-b")
    trusted = split_pem(b.ca[0] + new_ca[0])  # trusted-cas.pem of org-b's PKI directory at stage trust
    assert trusted == [b.ca[0], new_ca[0]]
    addresses = dict((name, c.gateway_address) for name, c in fed_b.clusters.items())
    body = bundle_body(fed_b, "org-a", trusted, addresses, *bundle.validity(NOW, 30))
    path = write(tmp_path, "rotated.json", bundle.sign(body, new_ca[0], new_ca[1]))  # signed by the new CA (stage issue)
    peers, problems, dummy = a.read([peer_entry(b, path, signer_fingerprint=[b.fingerprint, new_ca[2]])])
    assert problems == [] and peers[0]["signer"] == new_ca[2]
    model = a.model_from([peer_entry(b, path, signer_fingerprint=[b.fingerprint, new_ca[2]])])
    assert list(model.peers["org-b"].cas) == [b.ca[0], new_ca[0]]  # the Secret for org-b then trusts both
    # pinned to the old signer alone, the new CA's bundle is refused, naming both
    dummy, problems, dummy = a.read([peer_entry(b, path)])
    assert len(problems) == 1 and new_ca[2] in problems[0] and b.fingerprint in problems[0], problems
