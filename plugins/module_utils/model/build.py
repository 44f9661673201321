# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation model: what every cluster exports and imports, validated as a whole.

``build_model(clusters, settings)`` turns the inventory's per-cluster description into the model's namedtuples,
or raises ``FederationModelError`` carrying *every* problem found, each one naming the cluster, the inventory
variable, the list item and the field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.inventory import parse_cluster
from ansible_collections.meshfed.federation.plugins.module_utils.model.peers import parse_peers
from ansible_collections.meshfed.federation.plugins.module_utils.model.references import check_cross_references
from ansible_collections.meshfed.federation.plugins.module_utils.model.settings import parse_settings
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    Federation, FederationModelError, Problems)


def build_model(clusters, settings=None, peers=None, errors=()):
    """Validate the inventory's clusters and return a ``Federation``; raise ``FederationModelError``.

    ``peers``: one mapping per meshfed_peers entry, ``{name, where, bundle, signer}``, ``bundle`` the body of its
    verified peering bundle (module_utils/peering/envelope.py) or None while it has none; ``errors``: the problems found
    reading and verifying the bundles, reported with the inventory's."""
    problems = Problems()
    problems.errors.extend(errors)
    parsed_settings = parse_settings(problems, settings)
    if not isinstance(clusters, dict) or not clusters:
        problems.add("inventory", "no clusters: put the clusters in the inventory group meshfed_clusters")
        clusters = {}
    parsed = {name: parse_cluster(problems, name, raw, parsed_settings) for name, raw in sorted(clusters.items())}
    parsed_peers = parse_peers(problems, peers or [], parsed_settings, parsed)
    resolved, skipped = check_cross_references(problems, parsed, parsed_peers, parsed_settings)
    if problems.errors:
        raise FederationModelError(problems.errors)
    return Federation(parsed_settings, resolved, parsed_peers, tuple(skipped))
