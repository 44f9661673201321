# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventories/example-org-a and example-org-b pair (docs/organizations.md) fit each other: each validates
while its peer is pending, and with the bundle the other writes nothing is left out or refused."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import CLUSTER_VARS
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.parties import (
    Party, federate, make_ca)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ADDRESSES = {"org-a": {"address": "203.0.113.10", "port": 15443}, "org-b": {"address": "198.51.100.20", "port": 15443}}


def example(org):
    """(party name, clusters description) of inventories/example-<org>, with the address discovery would find."""
    directory = os.path.join(REPO, "inventories", "example-" + org)
    with open(os.path.join(directory, "hosts.yml")) as f:
        hosts = yaml.safe_load(f)["all"]["children"]["meshfed_clusters"]["hosts"]
    with open(os.path.join(directory, "group_vars", "meshfed_clusters.yml")) as f:
        group_vars = yaml.safe_load(f)
    clusters = dict((name, dict((key, host[var]) for key, var in CLUSTER_VARS.items() if var in host))
                    for name, host in hosts.items())
    for cluster in clusters.values():
        cluster["gateway_address"] = ADDRESSES[org]
    return group_vars["meshfed_party"], clusters, group_vars["meshfed_peers"]


def test_the_example_pair_validates_pending_then_complete(tmp_path):
    parties = []
    for org in ("org-a", "org-b"):
        party, clusters, peers = example(org)
        assert [p["name"] for p in peers] == [{"org-a": "org-b", "org-b": "org-a"}[org]]
        parties.append(Party(party, clusters, make_ca(party)))
    pending, full = federate(tmp_path, parties)
    assert pending["org-a"].skipped and pending["org-b"].skipped  # each waits for the other's bundle
    for org in ("org-a", "org-b"):
        assert full[org].skipped == (), full[org].skipped
    # org-b's details: one server for org-a, GET and HEAD on /details/* for org-a's shop-eu only
    policy = [o for o in render_exports(full["org-b"], "catalog-1")
              if o["kind"] == "AuthorizationPolicy" and o["metadata"]["name"] == "meshfed-export-details"][0]
    assert policy["spec"]["rules"] == [{
        "from": [{"source": {"principals": ["shop-eu.org-a.example/meshfed-gateway"]}}],
        "when": [{"key": "connection.sni", "values": ["details.org-a.catalog-1.org-b.example"]}],
        "to": [{"operation": {"methods": ["GET", "HEAD"], "paths": ["/details/*"]}}]}]


def test_the_example_inventory_does_not_validate_an_import_the_peer_never_granted(tmp_path):
    parties = [Party(org, example(org)[1], make_ca(org)) for org in ("org-a", "org-b")]
    parties[0].clusters["shop-eu"]["imports"].append(
        {"name": "secret-stuff", "namespace": "default", "port": 9080,
         "from": [{"cluster": "org-b/catalog-1", "export": "internal-admin"}]})
    try:
        federate(tmp_path, parties)
    except FederationModelError as error:
        assert any("shop-eu: meshfed_imports[2] (secret-stuff): from[0]: cluster 'org-b/catalog-1' in the peering "
                   "bundle of org-b has no export named 'internal-admin'" in e for e in error.errors), error.errors
    else:
        raise AssertionError("an import of an export never granted was accepted")
