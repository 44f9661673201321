# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookups over a validated model: a cluster by name, an export's grants, the parties a cluster deals with."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.names import caller_namespace, peer_of
from ansible_collections.meshfed.federation.plugins.module_utils.model.peers import peer_trust_domain
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import DISCOVER


def cluster_of(federation, name):
    """A cluster of this inventory or, named ``<peer>/<cluster>``, of a peer's bundle; None if unknown."""
    peer = peer_of(name)
    if peer is None:
        return federation.clusters.get(name)
    return federation.peers[peer].clusters.get(name) if peer in federation.peers else None


def grant_for(export, consumer):
    """The Grant of ``export`` to the cluster named ``consumer``."""
    return next(g for g in export.grants if g.consumer == consumer)


def known_grants(export):
    """The grants whose consumer's identity is known (not waiting for its party's bundle)."""
    return [g for g in export.grants if g.identity is not None]


def consumer_parties(federation, cluster):
    """The peer parties that consume an export of one cluster of this inventory (known grants)."""
    return sorted({g.party for e in cluster.exports for g in known_grants(e)} - {cluster.party})


def source_parties(federation, cluster):
    """The peer parties one cluster of this inventory imports from."""
    return sorted({cluster_of(federation, s.cluster).party for i in cluster.imports for s in i.sources}
                  - {cluster.party})


def peer_parties(federation, cluster):
    """The peer parties one cluster of this inventory deals with: consumers of its exports (known ones) and
    sources of its imports, each needing its own trust bundle."""
    return sorted(set(consumer_parties(federation, cluster)) | set(source_parties(federation, cluster)))


def find_export(federation, cluster_name, export_name):
    return next(e for e in cluster_of(federation, cluster_name).exports if e.name == export_name)


def clusters_needing_address(federation):
    """Names of this inventory's clusters whose gateway address must be known: some cluster imports from them, or
    a peer party is granted one of their exports (its bundle carries the address)."""
    needed = {s.cluster for c in federation.clusters.values() for i in c.imports for s in i.sources}
    needed.update(c.name for c in federation.clusters.values()
                  if any(peer_of(g.consumer) for e in c.exports for g in e.grants))
    return sorted(name for name in needed if name in federation.clusters)


def clusters_to_discover(federation):
    """Names of the clusters whose gateway address is needed and is to be discovered from their cluster (their
    gateway_address is ``discover``): the one rule of the federation_model's ``needs_address_discovery``, the
    private_gateway module's default of ``discover_address`` and the status playbook."""
    return [name for name in clusters_needing_address(federation)
            if federation.clusters[name].gateway_address == DISCOVER]


def consumer_trust_domain(federation, grant):
    """The trust domain of the consumer's mesh, which its callers' SPIFFE IDs carry: this inventory's
    (meshfed_trust_domain), or the one its peer's bundle gives."""
    peer = peer_of(grant.consumer)
    if peer is None:
        return federation.settings.trust_domain
    return peer_trust_domain(federation.peers[peer])


def ungranted_callers(federation, cluster_name):
    """One sentence per source of an import of this cluster whose grant names callers, none of them in the
    import's namespace: every request of that namespace to it gets 403 at the exporter."""
    cluster = federation.clusters[cluster_name]
    sentences = []
    for imported in cluster.imports:
        for source in imported.sources:
            grant = grant_for(find_export(federation, source.cluster, source.export), cluster.name)
            if grant.callers and imported.namespace not in {caller_namespace(c) for c in grant.callers}:
                sentences.append(
                    "import %s/%s: %s grants export %s to the callers %s only, none in namespace %s: its requests to "
                    "that source get 403 until the exporter grants one of its service accounts"
                    % (imported.namespace, imported.name, source.cluster, source.export, ", ".join(grant.callers),
                       imported.namespace))
    return sentences
