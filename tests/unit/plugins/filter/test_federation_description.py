# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation_description and discovered_gateway_addresses filters: what they take from the inventory and
from the facts discovery set."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.filter.discovered_gateway_addresses import discovered_gateway_addresses
from ansible_collections.meshfed.federation.plugins.filter.federation_description import federation_description

ADDRESS = {"address": "192.0.2.9", "port": 15443}


def hostvars():
    return {
        "cluster1": {"meshfed_identity": "c1.example.com", "meshfed_federation_name": "demo", "unrelated": 1,
                     "meshfed_imports": [{"name": "reviews", "from": [{"cluster": "cluster2", "export": "reviews"}]}],
                     "ansible_facts": {}},
        "cluster2": {"meshfed_identity": "c2.example.com", "meshfed_gateway_address": "discover",
                     "meshfed_exports": [{"name": "reviews"}],
                     "ansible_facts": {"meshfed_discovered_gateway_address": ADDRESS}},
        "cluster3": {"meshfed_identity": "c3.example.com",
                     "ansible_facts": {"meshfed_discovered_gateway_address": None}},  # discovery found nothing yet
    }


def test_reads_the_clusters_and_their_settings_and_nothing_discovery_found():
    spec = federation_description(hostvars(), ["cluster1", "cluster2", "cluster3"], "cluster1")
    assert spec["clusters"]["cluster2"] == {"identity": "c2.example.com", "gateway_address": "discover",
                                            "exports": [{"name": "reviews"}]}
    assert "unrelated" not in spec["clusters"]["cluster1"]
    assert spec["settings"] == {"federation_name": "demo"}
    assert sorted(spec) == ["clusters", "settings"]  # discovered addresses travel only as peer_addresses


def test_only_the_named_clusters_count():
    spec = federation_description(hostvars(), ["cluster1"], "cluster1")
    assert list(spec["clusters"]) == ["cluster1"]


def test_an_empty_group_is_an_error():
    with pytest.raises(AnsibleFilterError, match="no cluster hosts"):
        federation_description(hostvars(), [], "cluster1")


def test_discovered_addresses_are_the_found_ones_of_the_named_clusters():
    assert discovered_gateway_addresses(hostvars(), ["cluster1", "cluster2", "cluster3"]) == {"cluster2": ADDRESS}
    assert discovered_gateway_addresses(hostvars(), ["cluster1", "cluster3"]) == {}


def test_discovered_addresses_of_hosts_without_facts_are_empty():
    assert discovered_gateway_addresses({"cluster1": {}}, ["cluster1"]) == {}
