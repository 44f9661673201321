# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cross-references of a description as a whole: unique names and identities, consumers and import sources that exist,
weights that add up; grants resolved."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import check_balance, check_leg_count
from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import check_unique
from ansible_collections.meshfed.federation.plugins.module_utils.model.limits import check_shared_connection_quotas
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import PEER_SEPARATOR, grant_host, peer_of
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FAILOVER


def check_cross_references(problems, clusters, peers, settings):
    """The clusters with their grants resolved (consumer identities and hosts) and without the imports waiting for
    a pending peer; and the sentences saying what was skipped."""
    identities = {}
    for cluster in clusters.values():
        if cluster.identity in identities:
            problems.add(cluster.name, "meshfed_identity '%s' is also used by %s" % (cluster.identity, identities[cluster.identity]))
        identities.setdefault(cluster.identity, cluster.name)
    skipped = []
    resolved = {}
    for cluster in clusters.values():
        check_unique(problems, cluster.name, "export name in meshfed_exports", [e.name for e in cluster.exports])
        check_unique(problems, cluster.name, "import (namespace/name) in meshfed_imports",
                     ["%s/%s" % (i.namespace, i.name) for i in cluster.imports])
        exports = tuple(_check_consumers(problems, clusters, peers, cluster, index, export)
                        for index, export in enumerate(cluster.exports))
        imports = []
        for index, imported in enumerate(cluster.imports):
            waiting = _check_import_sources(problems, clusters, peers, cluster, index, imported)
            if waiting:
                skipped.append("%s: meshfed_imports[%d] (%s) is left out: it waits for a peering bundle that grants "
                               "it (%s)" % (cluster.name, index, imported.name, ", ".join(waiting)))
            else:
                imports.append(imported)
        resolved[cluster.name] = cluster._replace(exports=exports, imports=tuple(imports))
        check_leg_count(problems, resolved[cluster.name])
    for cluster in resolved.values():
        for export in cluster.exports:
            pending = sorted({peer_of(g.consumer) for g in export.grants
                              if peer_of(g.consumer) in peers and peers[peer_of(g.consumer)].bundle is None})
            if pending:
                skipped.append("%s: export %s is not served to %s until their peering bundle is in place"
                               % (cluster.name, export.name, ", ".join(pending)))
    return resolved, skipped


def _check_consumers(problems, clusters, peers, cluster, index, export):
    """The export with each grant's consumer identity and host."""
    where = "%s: meshfed_exports[%d] (%s)" % (cluster.name, index, export.name)
    check_unique(problems, where, "consumer", export.consumers)
    grants = []
    for c_index, grant in enumerate(export.grants):
        consumer = grant.consumer
        peer = peer_of(consumer)
        identity, party = None, cluster.party
        if consumer is None:
            continue
        if consumer == cluster.name:
            problems.add(where, "consumers[%d]: a cluster cannot consume its own export" % c_index)
        elif peer is None and consumer not in clusters:
            problems.add(where, "consumers[%d]: unknown cluster '%s' (known: %s)"
                         % (c_index, consumer, ", ".join(sorted(clusters))))
        elif peer is None:
            identity, party = clusters[consumer].identity, clusters[consumer].party
        elif peer not in peers:
            problems.add(where, "consumers[%d]: '%s' names peer '%s', which meshfed_peers does not list (peers: %s)"
                         % (c_index, consumer, peer, ", ".join(sorted(peers)) or "none"))
        elif peers[peer].bundle is not None:
            remote = peers[peer].clusters.get(consumer)
            if remote is None:
                problems.add(where, "consumers[%d]: the peering bundle of %s has no cluster '%s' (bundle field "
                             "body.clusters: %s)" % (c_index, peer, consumer.split(PEER_SEPARATOR, 1)[1],
                                                     _remote_names(peers[peer])))
            else:
                identity = remote.identity
        party = peer or party
        grants.append(grant._replace(identity=identity, party=party, host=grant_host(export.name, cluster, party)))
    export = export._replace(grants=tuple(grants))
    check_shared_connection_quotas(problems, where, export)
    return export


def _remote_names(peer):
    return ", ".join(sorted(name.split(PEER_SEPARATOR, 1)[1] for name in peer.clusters)) or "none"


def _check_import_sources(problems, clusters, peers, cluster, index, imported):
    """The pending peers the import waits for (it is left out until their bundles are in place)."""
    where = "%s: meshfed_imports[%d] (%s)" % (cluster.name, index, imported.name)
    check_unique(problems, where, "source (cluster/export) in from", ["%s/%s" % (s.cluster, s.export) for s in imported.sources])
    waiting, withdrawn = set(), set()
    for s_index, source in enumerate(imported.sources):
        s_where = "%s: from[%d]" % (where, s_index)
        peer_name = peer_of(source.cluster)
        if source.cluster == cluster.name:
            problems.add(s_where, "cluster '%s' is this cluster: use local to route to the local copy" % source.cluster)
            continue
        if peer_name is None:
            exporter, what = clusters.get(source.cluster), "cluster '%s'" % source.cluster
            if exporter is None:
                problems.add(s_where, "unknown peer cluster '%s' (known: %s)" % (source.cluster, ", ".join(sorted(clusters))))
                continue
        else:
            peer = peers.get(peer_name)
            if peer is None:
                problems.add(s_where, "cluster '%s' names peer '%s', which meshfed_peers does not list (peers: %s)"
                             % (source.cluster, peer_name, ", ".join(sorted(peers)) or "none"))
                continue
            if peer.bundle is None:
                waiting.add(peer_name)
                continue
            exporter = peer.clusters.get(source.cluster)
            what = "cluster '%s' in the peering bundle of %s" % (source.cluster, peer_name)
            if exporter is None:
                problems.add(s_where, "the peering bundle of %s has no cluster '%s' (bundle field body.clusters: %s)"
                             % (peer_name, source.cluster.split(PEER_SEPARATOR, 1)[1], _remote_names(peer)))
                continue
        if peer_name is not None and PEER_SEPARATOR.join((source.cluster, source.export)) in peer.withdrawn:
            withdrawn.add("%s (%s withdrew export %s)" % (peer_name, source.cluster, source.export))
            continue
        _check_source_export(problems, s_where, what, cluster, imported, source, exporter)
    waiting.update(withdrawn)
    if not waiting and check_balance(problems, where, imported) and imported.mode != FAILOVER:
        _check_weights(problems, where, imported)
    return sorted(waiting)


def _check_source_export(problems, where, what, cluster, imported, source, exporter):
    export = next((e for e in exporter.exports if e.name == source.export), None)
    field = "" if peer_of(exporter.name) is None else " (bundle field body.clusters[].exports)"
    if export is None:
        offered = ", ".join(sorted(e.name for e in exporter.exports)) or "none"
        problems.add(where, "%s has no export named '%s'%s (it exports: %s)" % (what, source.export, field, offered))
        return
    if cluster.name not in export.consumers:
        problems.add(where, "export '%s' of %s is not granted to %s%s (its consumers: %s)"
                     % (export.name, what, cluster.name, field.replace("exports", "exports[].consumers"),
                        ", ".join(export.consumers) or "none"))
    if export.protocol != imported.protocol:
        problems.add(where, "protocol %s does not match export '%s' of %s, which is %s%s"
                     % (imported.protocol, export.name, exporter.name if not field else what, export.protocol,
                        field.replace("exports", "exports[].protocol")))


def _check_weights(problems, where, imported):
    destinations = list(imported.sources) + ([imported.local] if imported.local else [])
    weights = [d.weight for d in destinations]
    if len(destinations) == 1 and weights[0] in (None, 100):
        return
    if any(w is None for w in weights):
        problems.add(where, "weight is required on every source%s when traffic is split across %d destinations"
                     % (" and on local" if imported.local else "", len(destinations)))
        return
    if any(isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100 for w in weights):
        problems.add(where, "weights must be integers between 0 and 100, got %s" % weights)
        return
    if sum(weights) != 100:
        problems.add(where, "weights %s add up to %d, not 100" % (weights, sum(weights)))
