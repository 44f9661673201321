# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the filters read from the inventory: the federation description, the gateway addresses discovered and the
results the cluster roles registered."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import DISCOVERED_ADDRESS_FACT
from ansible_collections.meshfed.federation.plugins.module_utils.model.settings import DEFAULT_SETTINGS
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import CLUSTER_ROLES

# what the tasks of the private_gateway, service_export and service_import roles register, in the order they run
ROLE_RESULTS = tuple(role + "_result" for role in CLUSTER_ROLES)
# what the federation lock's task registers (playbooks/tasks/lock.yml)
LOCK_RESULT = "meshfed_lock_result"
# what federate.yml's preflight tasks register (federated_cluster: the roles' preflight results under ``roles``): the
# gateways' alone first when an address is discovered, then the others'
PREFLIGHT_RESULTS = ("meshfed_gateway_preflight_result", "meshfed_preflight_result")
# what federate.yml's converge tasks register (federated_cluster: the roles' results under ``roles``): the gateways'
# and exports', then the imports'
CONVERGE_RESULTS = ("meshfed_gateways_and_exports_result", "meshfed_imports_result")
# the keys of a registered result that the preflight's verdict, the lock's and the run's end read
RESULT_KEYS = ("failed", "msg", "preflight", "blocked", "conflict_reasons", "in_the_way", "mesh_settings", "held_by",
               "changes")

CLUSTER_VARS = {"identity": "meshfed_identity", "gateway_address": "meshfed_gateway_address",
                "exports": "meshfed_exports", "imports": "meshfed_imports"}


def plain(value):
    """Turn Ansible's lazy/templated containers and tagged scalars into plain dicts, lists and scalars."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def discovered_gateway_addresses(hostvars, clusters):
    """Cluster name -> {address, port} that the private_gateway module's discovery set as host fact."""
    addresses = {}
    for name in clusters:
        address = (hostvars[name].get("ansible_facts") or {}).get(DISCOVERED_ADDRESS_FACT)
        if address:
            addresses[name] = plain(address)
    return addresses


def registered_results(hostvars, clusters, names=ROLE_RESULTS):
    """Cluster name -> [what each variable of ``names`` registered, only RESULT_KEYS of it, or None if not
    registered], for every cluster of ``clusters``."""
    results = {}
    for name in clusters:
        results[name] = [_kept(hostvars[name].get(var)) for var in names]
    return results


def preflight_results(hostvars, clusters):
    """Cluster name -> the preflight results of its roles, in CLUSTER_ROLES' order, as registered_results keeps them: from
    the roles of the federated_cluster tasks' results (PREFLIGHT_RESULTS) when one ran, else what the roles' own tasks
    registered (a playbook that runs each role with preflight=true)."""
    results = {}
    for name in clusters:
        planned = {}
        for var in PREFLIGHT_RESULTS:
            result = hostvars[name].get(var)
            if isinstance(result, dict) and isinstance(result.get("roles"), dict):
                planned.update(result["roles"])
        if planned:
            results[name] = [_kept(planned.get(role)) for role in CLUSTER_ROLES]
        else:
            results[name] = registered_results(hostvars, [name])[name]
    return results


def _kept(result):
    return dict((k, plain(result[k])) for k in RESULT_KEYS if k in result) if isinstance(result, dict) else None


def present_vars(host, names):
    """key -> plain value of each variable in ``names`` (key -> variable name) that ``host`` defines, each read once:
    reading a host variable templates it."""
    values = {}
    for key, var in names.items():
        value = host.get(var)
        if value is not None:
            values[key] = plain(value)
    return values


def peers_of(host):
    """The meshfed_peers of ``host``, a relative bundle path taken from the inventory's directory."""
    peers = plain(host.get("meshfed_peers"))
    if not isinstance(peers, list):
        return peers
    base = host.get("inventory_dir") or "."
    resolved = []
    for peer in peers:
        if isinstance(peer, dict) and isinstance(peer.get("bundle"), str) and peer["bundle"]:
            path = os.path.expanduser(peer["bundle"])
            peer = dict(peer, bundle=path if os.path.isabs(path) else os.path.join(str(base), path))
        resolved.append(peer)
    return resolved


def federation_description(hostvars, clusters, current):
    """{clusters, settings, peers, peer_state_dir}: every cluster's meshfed_* variables, the federation-wide settings
    of ``current`` and, when it has meshfed_peers, the peers and where their bundles' records are kept."""
    description = {"clusters": {name: present_vars(hostvars[name], CLUSTER_VARS) for name in clusters},
                   "settings": present_vars(hostvars[current], {key: "meshfed_" + key for key in DEFAULT_SETTINGS})}
    peers = peers_of(hostvars[current])
    if peers is not None:
        description["peers"] = peers
        description["peer_state_dir"] = peer_state_dir(hostvars[current], description["settings"])
    return description


def peer_state_dir(host, settings):
    """Where the records of the peers' bundles are kept: meshfed_peer_state_dir, else
    ~/.meshfed/peers/<federation name>."""
    return plain(host.get("meshfed_peer_state_dir")) or "~/.meshfed/peers/%s" % settings.get(
        "federation_name", DEFAULT_SETTINGS["federation_name"])
