# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation option as the modules take it: the validated model federation_model returns (``model_of``), or,
the one fallback of every module, a description validated here with its peers' bundles (``validate_description``),
which re-reads the bundles and rebuilds the model: the playbooks hand the roles the validated model.

The validated federation is ``{model: <the model as JSON text>}``. As text, Ansible passes it to each task as one
string; as nested data, every task that took it templated and copied each of its thousands of values (at K = 100
about 0.15 s of CPU per task and cluster, docs/performance.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.data import model_data, model_from_data
from ansible_collections.meshfed.federation.plugins.module_utils.model.settings import DEFAULT_SETTINGS
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import FederationModelError
from ansible_collections.meshfed.federation.plugins.module_utils.peering.records import read_peers

MODEL = "model"


def validated(federation):
    """The validated federation, as a module option or a registered variable holds it."""
    return {MODEL: json.dumps(model_data(federation), separators=(",", ":"))}


def model_of(value):
    """The model of a validated federation ({model}); ValueError for one that federation_model did not return."""
    try:
        return model_from_data(json.loads(value[MODEL]))
    except (KeyError, TypeError, ValueError):
        raise ValueError("federation.model is not what federation_model returns: pass the validated federation "
                         "unchanged, or the description ({clusters, settings, peers}) to validate")


def validate_description(value, peer_state_dir=None):
    """(model, what each peer's bundle changed since the run that recorded it in ``peer_state_dir``) of a
    description; the peers' bundles are read and verified with it."""
    settings = value.get("settings") or {}
    party = settings.get("party") or settings.get("federation_name") or DEFAULT_SETTINGS["federation_name"]
    state_dir = peer_state_dir or value.get("peer_state_dir")
    peers, problems, changes = read_peers(value.get("peers"), party, os.path.expanduser(state_dir) if state_dir else None)
    return build_model(value.get("clusters"), settings, peers, problems), changes


def read_federation(value, peer_state_dir=None):
    """(model, what the peers' bundles changed) of a ``federation`` option: a validated federation as it is, a
    description validated."""
    if MODEL in value:
        return model_of(value), {}
    return validate_description(value, peer_state_dir)


# the role modules' description fallback, deprecated: the roles validate once per play and hand them the model
DESCRIPTION_DEPRECATION = ("federation: a description ({clusters, settings, peers}) is deprecated for this module; "
                           "pass the validated federation that meshfed.federation.federation_model returns (the "
                           "collection's roles and playbooks do)")
DESCRIPTION_REMOVED_IN = "1.0.0"


def load_federation(module, cluster_option="cluster", peer_state_dir=None, with_changes=False,
                    description_deprecated=False):
    """The federation of ``module.params['federation']``, of which ``module.params[cluster_option]`` must be a
    cluster; on any problem the module fails before a single request reaches a cluster. ``with_changes``: also
    what the peers' bundles changed (read_federation). ``description_deprecated``: a description is still
    validated, with a deprecation."""
    changes = {}
    if description_deprecated and MODEL not in (module.params["federation"] or {}):
        module.deprecate(DESCRIPTION_DEPRECATION, version=DESCRIPTION_REMOVED_IN,
                         collection_name="meshfed.federation")
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
