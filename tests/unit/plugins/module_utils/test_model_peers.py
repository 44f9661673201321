# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model across parties: what waits for a pending peer, the grants (identity and host per consumer party),
the bundle a party hands a peer, and every validation problem naming the peer, the bundle field and our item."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import clusters_needing_address
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    FederationModelError, GatewayAddress, Grant)

from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.parties import (
    ORG_A, consumer_of_catalog, module_fixture, three_parties, two_parties)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import seed, settings

two = module_fixture(two_parties)
three = module_fixture(three_parties)


def verified(name, body, index=0):
    """A meshfed_peers entry as read_peers hands it to build_model once the bundle verified."""
    return {"name": name, "where": "meshfed_peers[%d] (%s)" % (index, name), "bundle": body, "signer": "sha256:" + "a" * 64}


def body_of(two, issuer, recipient):
    """The body ``issuer`` hands ``recipient`` once both are federated (a copy to change)."""
    parties, dummy, full = two
    return copy.deepcopy(parties[issuer].body_for(full[issuer], recipient))


def errors_of(clusters, party, peers):
    with pytest.raises(FederationModelError) as caught:
        build_model(clusters, {"party": party}, peers)
    return caught.value.errors


def org_a_errors(two, change_clusters=None, change_body=None):
    """The problems of org-a's model with its clusters and org-b's bundle body changed."""
    clusters, body = copy.deepcopy(ORG_A), body_of(two, "org-b", "org-a")
    if change_clusters:
        change_clusters(clusters)
    if change_body:
        change_body(body)
    return errors_of(clusters, "org-a", [verified("org-b", body)])


# --------------------------------------------------------------------------- pending peers


def test_while_the_peer_is_pending_skipped_says_which_import_and_export_wait_for_its_bundle(two):
    dummy, pending, dummy = two
    assert pending["org-a"].skipped == (
        "cluster1: meshfed_imports[0] (reviews) is left out: it waits for a peering bundle that grants it (org-b)",
        "cluster1: export ratings is not served to org-b until their peering bundle is in place")
    assert pending["org-b"].skipped == (
        "cluster2: meshfed_imports[0] (ratings) is left out: it waits for a peering bundle that grants it (org-a)",
        "cluster2: export reviews-v2 is not served to org-a until their peering bundle is in place")


def test_a_pending_peer_leaves_the_import_out_and_the_grant_without_identity_but_with_its_host(two):
    dummy, pending, dummy = two
    cluster1 = pending["org-a"].clusters["cluster1"]
    assert cluster1.imports == ()
    assert cluster1.exports[0].grants == (
        Grant("org-b/cluster2", None, "ratings.org-b.c1.example.com", ("GET",), ("/ratings/*",), "org-b", None),)
    assert pending["org-a"].peers["org-b"].bundle is None


def test_once_both_bundles_are_in_place_nothing_is_skipped_and_the_grants_know_the_peer_identity(two):
    dummy, dummy, full = two
    assert full["org-a"].skipped == () and full["org-b"].skipped == ()
    assert [i.name for i in full["org-a"].clusters["cluster1"].imports] == ["reviews"]
    assert full["org-b"].clusters["cluster2"].exports[0].grants == (
        Grant("org-a/cluster1", "c1.example.com", "reviews-v2.org-a.c2.example.com", None, None, "org-a", None),)


def test_a_peer_cluster_is_known_as_peer_slash_name_with_the_identity_and_address_of_the_bundle(two):
    dummy, dummy, full = two
    peer = full["org-a"].peers["org-b"]
    remote = peer.clusters["org-b/cluster2"]
    assert (remote.identity, remote.gateway_address, remote.party) == (
        "c2.example.com", GatewayAddress("203.0.113.2", 15443), "org-b")
    # what org-b grants us: reviews-v2 to cluster1 under the host org-b's gateway serves org-a on
    assert remote.exports[0].grants == (
        Grant("cluster1", "c1.example.com", "reviews-v2.org-a.c2.example.com", None, None, "org-a", None),)


# --------------------------------------------------------------------------- the bundle a party hands over


def test_the_bundle_a_party_hands_over_is_the_same_before_and_after_the_peer_handed_its_own(two):
    parties, pending, full = two
    for issuer, recipient in (("org-a", "org-b"), ("org-b", "org-a")):
        assert (parties[issuer].body_for(pending[issuer], recipient)
                == parties[issuer].body_for(full[issuer], recipient))


def test_the_bundle_carries_the_exports_granted_with_their_host_methods_and_paths_and_the_consumers(two):
    body = body_of(two, "org-a", "org-b")
    assert (body["issuer"], body["recipient"]) == ("org-a", "org-b")
    assert (body["issued_at"], body["expires_at"]) == ("2026-12-10T03:00:00Z", "2027-01-09T03:00:00Z")
    assert body["clusters"] == [{
        "name": "cluster1", "identity": "c1.example.com", "consumer": True,
        "gateway_address": {"address": "203.0.113.1", "port": 15443},
        "exports": [{"name": "ratings", "protocol": "http", "host": "ratings.org-b.c1.example.com", "port": 15443,
                     "path_prefix": "/",
                     "consumers": [{"cluster": "cluster2", "methods": ["GET"], "paths": ["/ratings/*"]}]}]}]


def test_the_bundle_for_one_peer_grants_only_that_peer_s_clusters(three):
    parties, dummy, full = three
    for recipient, consumer in (("org-a", "cluster1"), ("org-c", "cluster3")):
        cluster2, = parties["org-b"].body_for(full["org-b"], recipient)["clusters"]
        export, = cluster2["exports"]
        assert export["host"] == "catalog.%s.c2.example.com" % recipient
        assert export["consumers"] == [{"cluster": consumer, "methods": None, "paths": None}]


def test_a_consumer_only_cluster_is_in_the_bundle_with_its_identity_and_no_gateway_address(three):
    parties, dummy, full = three
    assert parties["org-a"].body_for(full["org-a"], "org-b")["clusters"] == [
        {"name": "cluster1", "identity": "c1.example.com", "consumer": True, "gateway_address": None, "exports": []}]


def test_grant_hosts_carry_the_consumer_party_for_peers_and_not_for_the_own_party(three):
    dummy, dummy, full = three
    grants = full["org-b"].clusters["cluster2"].exports[0].grants
    assert [(g.consumer, g.identity, g.host) for g in grants] == [
        ("org-a/cluster1", "c1.example.com", "catalog.org-a.c2.example.com"),
        ("org-c/cluster3", "c3.example.com", "catalog.org-c.c2.example.com"),
        ("cluster4", "c4.example.com", "catalog.c2.example.com")]


def test_a_single_party_inventory_grants_under_export_dot_identity_as_before():
    federation = build_model(seed(), settings(federation_name="bookinfo"))
    assert federation.settings.party == "bookinfo"
    assert [g.host for e in federation.clusters["cluster2"].exports for g in e.grants] == [
        "reviews-v2.c2.example.com", "details.c2.example.com"]
    assert federation.peers == {} and federation.skipped == ()


# --------------------------------------------------------------------------- validation across parties


def test_an_import_of_an_export_the_bundle_does_not_grant_us_names_the_peer_and_bundle_field(two):
    def second_consumer(clusters):
        clusters["cluster5"] = {"identity": "c5.example.com", "imports": [copy.deepcopy(clusters["cluster1"]["imports"][0])]}

    assert ("cluster5: meshfed_imports[0] (reviews): from[0]: export 'reviews-v2' of cluster 'org-b/cluster2' in the "
            "peering bundle of org-b is not granted to cluster5 (bundle field body.clusters[].exports[].consumers) "
            "(its consumers: cluster1)") in org_a_errors(two, second_consumer)


def test_an_import_of_an_export_the_bundle_does_not_have_lists_what_it_has(two):
    def other_export(clusters):
        clusters["cluster1"]["imports"][0]["from"][0]["export"] = "details"

    assert org_a_errors(two, other_export) == [
        "cluster1: meshfed_imports[0] (reviews): from[0]: cluster 'org-b/cluster2' in the peering bundle of org-b has "
        "no export named 'details' (bundle field body.clusters[].exports) (it exports: reviews-v2)"]


def test_a_protocol_mismatch_with_the_bundle_names_the_bundle_field(two):
    def tcp(clusters):
        clusters["cluster1"]["imports"][0]["protocol"] = "tcp"

    assert org_a_errors(two, tcp) == [
        "cluster1: meshfed_imports[0] (reviews): from[0]: protocol tcp does not match export 'reviews-v2' of cluster "
        "'org-b/cluster2' in the peering bundle of org-b, which is http (bundle field body.clusters[].exports[].protocol)"]


def test_a_bundle_cluster_whose_identity_is_one_of_ours_is_refused(two):
    def collide(body):
        body["clusters"][0]["identity"] = "c1.example.com"

    assert ("peer org-b: bundle field body.clusters[0]: identity 'c1.example.com' is also the identity of cluster1 in "
            "this inventory (meshfed_identity): one certificate identity, two parties") in org_a_errors(two, None, collide)


@pytest.mark.parametrize("name, consumer_message, source_message", [
    ("org-z/cluster9", "'org-z/cluster9' names peer 'org-z', which meshfed_peers does not list (peers: org-b)",
     "cluster 'org-z/cluster9' names peer 'org-z', which meshfed_peers does not list (peers: org-b)"),
    ("org-b/cluster7", "the peering bundle of org-b has no cluster 'cluster7' (bundle field body.clusters: cluster2)",
     "the peering bundle of org-b has no cluster 'cluster7' (bundle field body.clusters: cluster2)"),
])
def test_granting_to_or_importing_from_a_peer_cluster_nobody_listed_names_the_peer_and_its_bundle(
        two, name, consumer_message, source_message):
    def rename(clusters):
        clusters["cluster1"]["exports"][0]["consumers"][0]["cluster"] = name
        clusters["cluster1"]["imports"][0]["from"][0]["cluster"] = name

    assert org_a_errors(two, rename) == ["cluster1: meshfed_exports[0] (ratings): consumers[0]: " + consumer_message,
                                         "cluster1: meshfed_imports[0] (reviews): from[0]: " + source_message]


def test_a_bundle_exporting_without_a_gateway_address_names_the_bundle_field(two):
    def no_address(body):
        body["clusters"][0]["gateway_address"] = None

    assert ("peer org-b: bundle field body.clusters[0]: gateway_address is required with exports: where consumers "
            "dial them") in org_a_errors(two, None, no_address)


def test_a_peer_that_is_our_own_party_is_an_error(two):
    errors = errors_of(copy.deepcopy(ORG_A), "org-a", [verified("org-a", None), verified("org-b", None, 1)])
    assert errors == ["meshfed_peers[0] (org-a): peer 'org-a' is this inventory's own party (meshfed_party)"]


def test_methods_and_paths_on_a_tcp_export_are_an_error(two):
    def tcp(clusters):
        clusters["cluster1"]["exports"][0]["protocol"] = "tcp"

    assert ("cluster1: meshfed_exports[0] (ratings): consumers[0]: methods and paths apply to http exports only "
            "(this one is tcp)") in org_a_errors(two, tcp)


@pytest.mark.parametrize("field, value, message", [
    ("methods", ["get"], "methods ['get'] must be a non-empty list of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, "
                         "CONNECT, TRACE"),
    ("methods", [], "methods [] must be a non-empty list of"),
    ("paths", ["ratings"], "paths ['ratings'] must be a non-empty list of paths such as /reviews/0, /reviews/* (a "
                           "prefix) or *.json (a suffix)"),
    ("paths", ["/ratings/*/x"], "paths ['/ratings/*/x'] must be a non-empty list of paths"),
    ("paths", ["/a b"], "paths ['/a b'] must be a non-empty list of paths"),
    ("paths", "/ratings/*", "paths '/ratings/*' must be a non-empty list of paths"),
])
def test_bad_methods_and_paths_name_the_export_and_consumer(two, field, value, message):
    def bad(clusters):
        clusters["cluster1"]["exports"][0]["consumers"][0][field] = value

    errors = org_a_errors(two, bad)
    assert len(errors) == 1 and errors[0].startswith("cluster1: meshfed_exports[0] (ratings): consumers[0]: " + message)


def test_an_unknown_field_of_a_consumer_entry_is_reported(two):
    def unknown(clusters):
        clusters["cluster1"]["exports"][0]["consumers"][0]["verbs"] = ["GET"]

    assert org_a_errors(two, unknown) == [
        "cluster1: meshfed_exports[0] (ratings): consumers[0]: unknown field 'verbs' (allowed: cluster, methods, paths, callers, "
        "quota, state)"]


# --------------------------------------------------------------------------- bugs


def test_a_cluster_that_only_consumes_from_a_peer_needs_no_gateway_address(three):
    dummy, dummy, full = three
    assert clusters_needing_address(full["org-a"]) == []


def test_a_cluster_exporting_to_a_pending_peer_needs_its_gateway_address_for_the_first_bundle():
    clusters = copy.deepcopy(ORG_A)
    del clusters["cluster1"]["imports"]
    clusters["cluster1"]["gateway_address"] = "discover"
    pending = build_model(clusters, {"party": "org-a"}, [verified("org-b", None)])
    assert clusters_needing_address(pending) == ["cluster1"]


def test_an_identity_collision_names_the_bundle_entry_it_is_in(two):
    def collide_second(body):
        body["clusters"][0]["identity"] = "c1.example.com"
        body["clusters"].insert(0, "not a cluster")

    assert any(e.startswith("peer org-b: bundle field body.clusters[1]: identity 'c1.example.com'")
               for e in org_a_errors(two, None, collide_second))


def test_a_bundle_listing_one_cluster_twice_is_refused(two):
    def twice(body):
        body["clusters"].append(dict(copy.deepcopy(body["clusters"][0]), identity="c9.example.com"))

    assert any("body.clusters[1]" in e and "cluster2" in e for e in org_a_errors(two, None, twice))


def test_two_peers_claiming_one_identity_are_refused(three):
    parties, dummy, full = three
    body_b = parties["org-b"].body_for(full["org-b"], "org-a")
    body_c = copy.deepcopy(body_b)
    body_c.update(issuer="org-c")
    body_c["clusters"][0]["name"] = "cluster3"
    clusters = consumer_of_catalog("c1.example.com", "cluster1")
    clusters["cluster1"]["imports"].append({"name": "catalog", "namespace": "other", "port": 9080,
                                            "from": [{"cluster": "org-c/cluster3", "export": "catalog"}]})
    errors = errors_of(clusters, "org-a", [verified("org-b", body_b), verified("org-c", body_c, 1)])
    assert any("body.clusters[0]: identity 'c2.example.com'" in e for e in errors)


def test_a_path_with_a_wildcard_at_both_ends_is_refused(two):
    def both_ends(clusters):
        clusters["cluster1"]["exports"][0]["consumers"][0]["paths"] = ["*/ratings/*"]

    assert org_a_errors(two, both_ends)
