# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parties for the cross-organization tests: each party's inventory (its clusters, meshfed_party), its own CA,
and how it hands a peer a signed peering bundle and reads the bundles it was handed (a file per peer)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import os

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.peering import envelope as bundle
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import GatewayAddress
from ansible_collections.meshfed.federation.plugins.module_utils.model.peers import bundle_body
from ansible_collections.meshfed.federation.plugins.module_utils.peering.records import read_peers

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 10, 3, 0, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)
VALIDITY_DAYS = 30

SERVICE = {"namespace": "bookinfo", "port": 9080}

# org-a: cluster1 consumes reviews-v2 from org-b's cluster2 and exports ratings to it, GET /ratings/* only
ORG_A = {
    "cluster1": {
        "identity": "c1.example.com",
        "gateway_address": {"address": "203.0.113.1", "port": 15443},
        "exports": [{"name": "ratings", "service": dict(SERVICE, name="ratings"),
                     "consumers": [{"cluster": "org-b/cluster2", "methods": ["GET"], "paths": ["/ratings/*"]}]}],
        "imports": [{"name": "reviews", "namespace": "bookinfo", "port": 9080,
                     "from": [{"cluster": "org-b/cluster2", "export": "reviews-v2"}]}],
    },
}

# org-b: cluster2 exports reviews-v2 (its v2 pods) to org-a's cluster1 and consumes ratings from it
ORG_B = {
    "cluster2": {
        "identity": "c2.example.com",
        "gateway_address": "203.0.113.2:15443",
        "exports": [{"name": "reviews-v2", "service": dict(SERVICE, name="reviews"),
                     "subset": {"name": "v2", "labels": {"version": "v2"}}, "consumers": ["org-a/cluster1"]}],
        "imports": [{"name": "ratings", "namespace": "bookinfo", "port": 9080,
                     "from": [{"cluster": "org-a/cluster1", "export": "ratings"}]}],
    },
}

# Three parties: org-b's cluster2 exports catalog to its own cluster4, org-a's cluster1 and org-c's cluster3.
THREE_B = {
    "cluster2": {
        "identity": "c2.example.com",
        "gateway_address": "203.0.113.2:15443",
        "exports": [{"name": "catalog", "service": dict(SERVICE, name="catalog"),
                     "consumers": ["org-a/cluster1", "org-c/cluster3", "cluster4"]}],
    },
    "cluster4": {
        "identity": "c4.example.com",
        "imports": [{"name": "catalog", "namespace": "shop", "port": 9080,
                     "from": [{"cluster": "cluster2", "export": "catalog"}]}],
    },
}


def consumer_of_catalog(identity, cluster):
    """A party whose one cluster only consumes org-b's catalog (no gateway address: it exports nothing)."""
    return {cluster: {"identity": identity,
                      "imports": [{"name": "catalog", "namespace": "shop", "port": 9080,
                                   "from": [{"cluster": "org-b/cluster2", "export": "catalog"}]}]}}


def make_ca(organization, now=NOW):
    """(certificate PEM, key PEM, signer fingerprint) of a party's own CA."""
    key = pki.generate_key()
    cert = pki.build_ca(key, organization=organization, now=now - DAY)
    cert_pem = pki.cert_to_pem(cert).decode("ascii")
    return cert_pem, pki.key_to_pem(key).decode("ascii"), bundle.fingerprint(cert_pem)


class Party(object):
    """One organization: the inventory it runs (its clusters, meshfed_party) and its CA."""

    def __init__(self, name, clusters, ca):
        self.name = name
        self.clusters = copy.deepcopy(clusters)
        self.ca = ca

    @property
    def fingerprint(self):
        return self.ca[2]

    def settings(self, **values):
        return dict({"federation_name": "meshfed", "party": self.name}, **values)

    def model(self, peers=(), errors=()):
        return build_model(copy.deepcopy(self.clusters), self.settings(), list(peers), errors)

    def read(self, raw_peers, state_dir=None, now=NOW):
        """(peers, problems, changes) of this party's meshfed_peers."""
        return read_peers(raw_peers, self.name, state_dir, now)

    def model_from(self, raw_peers, state_dir=None, now=NOW):
        """The model with the bundles of ``raw_peers`` read and verified, as federation_model builds it."""
        peers, problems, dummy = self.read(raw_peers, state_dir, now)
        return build_model(copy.deepcopy(self.clusters), self.settings(), peers, problems)

    def body_for(self, federation, recipient, now=NOW, validity_days=VALIDITY_DAYS):
        addresses = dict((name, c.gateway_address) for name, c in federation.clusters.items()
                         if isinstance(c.gateway_address, GatewayAddress))
        return bundle_body(federation, recipient, [self.ca[0]], addresses, *bundle.validity(now, validity_days))

    def sign(self, body):
        return bundle.sign(body, self.ca[0], self.ca[1])

    def bundle_for(self, federation, recipient, now=NOW):
        return self.sign(self.body_for(federation, recipient, now))


def write(directory, name, document):
    """The path of a bundle file handed over (as the issuer dumps it)."""
    path = os.path.join(str(directory), name)
    with open(path, "w") as handle:
        handle.write(bundle.dump(document))
    return path


def peer_entry(issuer, path, pinned=True, **extra):
    """A meshfed_peers entry for ``issuer`` (a Party) with its bundle at ``path``, its fingerprint pinned."""
    entry = {"name": issuer.name, "bundle": path}
    if pinned:
        entry["signer_fingerprint"] = issuer.fingerprint
    entry.update(extra)
    return entry


def peer_path(directory, issuer, recipient):
    """Where ``recipient`` keeps the bundle ``issuer`` hands it."""
    return os.path.join(str(directory), "%s-for-%s.json" % (issuer.name, recipient.name))


def hand_over(directory, issuer, federation, recipient, now=NOW):
    """``issuer`` signs what ``federation`` grants ``recipient`` and puts it where ``recipient`` reads it."""
    return write(directory, os.path.basename(peer_path(directory, issuer, recipient)),
                 issuer.bundle_for(federation, recipient.name, now))


def peers_of(directory, party, others):
    """The meshfed_peers of ``party``: one pinned entry per other party, its bundle file where it is handed."""
    return [peer_entry(other, peer_path(directory, other, party)) for other in others]


def federate(directory, parties, now=NOW):
    """Every party's model once every other party has handed it its bundle: the pending models first (no bundle
    there yet), each party's bundle to each other party from that, then the full models. (pending, full) by
    party name."""
    pending = dict((p.name, p.model_from(peers_of(directory, p, [o for o in parties if o is not p]), now=now))
                   for p in parties)
    for issuer in parties:
        for recipient in parties:
            if recipient is not issuer:
                hand_over(directory, issuer, pending[issuer.name], recipient, now)
    full = dict((p.name, p.model_from(peers_of(directory, p, [o for o in parties if o is not p]), now=now))
                for p in parties)
    return pending, full


def two_parties(directory):
    """org-a and org-b federated through ``directory``: (parties by name, pending models, full models)."""
    parties = [Party("org-a", ORG_A, make_ca("org-a")), Party("org-b", ORG_B, make_ca("org-b"))]
    pending, full = federate(directory, parties)
    return dict((p.name, p) for p in parties), pending, full


def three_parties(directory):
    """org-b serving catalog to its own cluster4, org-a's cluster1 and org-c's cluster3, federated through
    ``directory``: (parties by name, pending models, full models)."""
    parties = [Party("org-a", consumer_of_catalog("c1.example.com", "cluster1"), make_ca("org-a")),
               Party("org-b", THREE_B, make_ca("org-b")),
               Party("org-c", consumer_of_catalog("c3.example.com", "cluster3"), make_ca("org-c"))]
    pending, full = federate(directory, parties)
    return dict((p.name, p) for p in parties), pending, full


def module_fixture(build):
    """A module-scoped fixture of ``build(directory)``: keys and bundles made once per test module."""
    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory):
        return build(tmp_path_factory.mktemp("bundles"))
    return fixture
