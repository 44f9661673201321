# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation_model module's work: validate the description once per run and return the validated model, with a
summary of every cluster and peer."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import destination_names, destinations
from ansible_collections.meshfed.federation.plugins.module_utils.model.limits import is_drained, quota_data
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import clusters_to_discover
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import DISCOVER, FAILOVER
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.validated_model import (
    load_federation, validated)


def address_data(gateway_address):
    """A gateway address as results show it: ``{address, port}``, or ``discover``."""
    if gateway_address == DISCOVER or gateway_address is None:
        return gateway_address
    return {"address": gateway_address.address, "port": gateway_address.port}


def export_summary(export):
    return {"name": export.name, "protocol": export.protocol, "service": "%s/%s:%d" % export.service,
            "subset": export.subset.name if export.subset else None, "consumers": list(export.consumers),
            "probe_path": export.probe_path, "limits": limits_summary(export)}


def limits_summary(export):
    """The consumers of an export with a quota or drained: ``{consumer, state, quota}`` each."""
    return [{"consumer": g.consumer, "state": g.state, "quota": quota_data(g.quota)}
            for g in export.grants if g.quota is not None or is_drained(g)]


def import_summary(imported):
    """One import: its sources and local copy with their weights, its mode and the order its destinations fall
    back in (failover: the first serves; weighted and split: as listed, local first), each destination's weight."""
    names = destination_names(imported)
    weights = [d.weight for d in destinations(imported)]
    if imported.mode == FAILOVER:
        weights = [None] * len(names)
    elif len(names) == 1:
        weights = [100]
    return {"name": imported.name, "namespace": imported.namespace, "port": imported.port,
            "protocol": imported.protocol,
            "sources": [{"cluster": s.cluster, "export": s.export, "weight": 100 if s.weight is None else s.weight}
                        for s in imported.sources],
            "local_weight": imported.local.weight if imported.local else None,
            "mode": imported.mode, "order": list(imported.order or names), "weights": dict(zip(names, weights))}


def cluster_summary(cluster):
    """What one cluster exports and imports, as federation_model and federation_info report it."""
    return {"name": cluster.name, "identity": cluster.identity, "gateway_address": address_data(cluster.gateway_address),
            "exports": [export_summary(e) for e in cluster.exports],
            "imports": [import_summary(i) for i in cluster.imports]}


def peer_summary(peer):
    """A peer party as federation_model reports it."""
    body = peer.bundle or {}
    return {"name": peer.name, "bundle": "verified" if peer.bundle is not None else "pending",
            "signer_fingerprint": peer.signer, "expires_at": body.get("expires_at"),
            "clusters": dict((c.name, {"identity": c.identity, "gateway_address": address_data(c.gateway_address),
                                       "exports": [e.name for e in c.exports]})
                             for c in peer.clusters.values())}


def run_federation_model(module):
    """Validate the federation and summarize it per cluster (module.exit_json); every problem at once."""
    state_dir = module.params.get("peer_state_dir") or module.params["federation"].get("peer_state_dir")
    federation, changes = load_federation(module, peer_state_dir=state_dir, with_changes=True)
    for skipped in federation.skipped:
        module.warn(skipped)
    module.exit_json(
        changed=False,
        federation=validated(federation),
        federation_name=federation.settings.federation_name,
        clusters=dict((name, cluster_summary(c)) for name, c in federation.clusters.items()),
        peers=dict((name, peer_summary(p)) for name, p in federation.peers.items()),
        peer_changes=dict((name, lines) for name, lines in changes.items() if lines),
        peer_state_dir=state_dir,
        waiting=list(federation.skipped),
        needs_address_discovery=clusters_to_discover(federation),
    )
