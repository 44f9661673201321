# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation as the modules take it: validated once by federation_model, then handed on as its model.

A module's ``federation`` option holds either the *description* (``{clusters, settings}``, what the
federation_description filter reads from the inventory), validated here with every problem reported, or the
*validated federation* federation_model returned (``{model: ...}``), taken as it is."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.meshfed.federation.plugins.module_utils.model import (
    DEFAULT_SETTINGS, DISCOVER, FederationModelError, build_model, clusters_needing_address, model_data,
    model_from_data)
from ansible_collections.meshfed.federation.plugins.module_utils.peering import read_peers

MODEL = "model"


def validated(federation):
    """The validated federation, as a module option or a registered variable holds it."""
    return {MODEL: model_data(federation)}


def federation_from(value, peer_state_dir=None):
    """The model of a ``federation`` option: FederationModelError for a description with problems, ValueError for a
    ``model`` that federation_model did not produce."""
    return read_federation(value, peer_state_dir)[0]


def read_federation(value, peer_state_dir=None):
    """(model, what each peer's bundle changed since the run that recorded it in ``peer_state_dir``) of a
    ``federation`` option; the peers' bundles are read and verified with the description."""
    if MODEL in value:
        try:
            return model_from_data(value[MODEL]), {}
        except (KeyError, TypeError, ValueError):
            raise ValueError("federation.model is not what federation_model returns: pass the validated federation "
                             "unchanged, or the description ({clusters, settings, peers}) to validate")
    settings = value.get("settings") or {}
    party = settings.get("party") or settings.get("federation_name") or DEFAULT_SETTINGS["federation_name"]
    state_dir = peer_state_dir or value.get("peer_state_dir")
    peers, problems, changes = read_peers(value.get("peers"), party, os.path.expanduser(state_dir) if state_dir else None)
    return build_model(value.get("clusters"), settings, peers, problems), changes


def load_federation(module, cluster_option="cluster", peer_state_dir=None, with_changes=False):
    """The federation of ``module.params['federation']``, of which ``module.params[cluster_option]`` must be a
    cluster; on any problem the module fails before a single request reaches a cluster. ``with_changes``: also
    what the peers' bundles changed (read_federation)."""
    changes = {}
    try:
        federation, changes = read_federation(module.params["federation"], peer_state_dir)
    except FederationModelError as error:
        module.fail_json(msg=str(error), errors=error.errors)
    except ValueError as error:
        module.fail_json(msg=str(error))
    name = module.params.get(cluster_option)
    if name is not None and name not in federation.clusters:
        module.fail_json(msg="cluster '%s' is not part of the federation (clusters: %s)"
                         % (name, ", ".join(sorted(federation.clusters))))
    return (federation, changes) if with_changes else federation


def address_data(gateway_address):
    """A gateway address as results show it: ``{address, port}``, or ``discover``."""
    if gateway_address == DISCOVER or gateway_address is None:
        return gateway_address
    return {"address": gateway_address.address, "port": gateway_address.port}


def export_summary(export):
    return {"name": export.name, "protocol": export.protocol, "service": "%s/%s:%d" % export.service,
            "subset": export.subset.name if export.subset else None, "consumers": list(export.consumers),
            "probe_path": export.probe_path}


def import_summary(imported):
    return {"name": imported.name, "namespace": imported.namespace, "port": imported.port,
            "protocol": imported.protocol,
            "sources": [{"cluster": s.cluster, "export": s.export, "weight": 100 if s.weight is None else s.weight}
                        for s in imported.sources],
            "local_weight": imported.local.weight if imported.local else None}


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
        needs_address_discovery=[name for name in clusters_needing_address(federation)
                                 if federation.clusters[name].gateway_address == DISCOVER],
    )
