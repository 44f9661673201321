# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: federation_spec
short_description: Collect the federation description from the inventory
version_added: 0.1.0
description:
  - Reads the C(meshfed_*) variables of every cluster host and the federation-wide settings of the current host,
    and returns the description that the C(meshfed.federation) modules validate and render.
  - Per cluster it reads C(meshfed_identity), C(meshfed_gateway_address), C(meshfed_exports) and C(meshfed_imports).
  - Settings are read from C(meshfed_federation_name), C(meshfed_gateway_namespace), C(meshfed_istio_api_version),
    C(meshfed_cert_delivery), C(meshfed_cluster_domain), C(meshfed_ingress_port), C(meshfed_egress_port),
    C(meshfed_ingress_service_type), C(meshfed_autoscale_min), C(meshfed_autoscale_max),
    C(meshfed_autoscale_cpu_percent) and C(meshfed_gateway_image) when defined.
options:
  _input:
    description: The C(hostvars) of the play.
    type: dict
    required: true
  clusters:
    description: Names of the cluster hosts, usually C(groups['meshfed_clusters']).
    type: list
    elements: str
    required: true
  current:
    description: The host whose variables give the federation-wide settings, usually C(inventory_hostname).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Describe the federation once for every module call
  ansible.builtin.set_fact:
    meshfed_federation: "{{ hostvars | meshfed.federation.federation_spec(groups['meshfed_clusters'], inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description:
    - C({clusters, settings, discovered_addresses}) where C(clusters) maps each cluster name to its identity, gateway
      address, exports and imports, and C(discovered_addresses) maps cluster names to the gateway address that
      discovery found (host fact C(meshfed_discovered_gateway_address), set by the
      M(meshfed.federation.private_gateway) module with O(meshfed.federation.private_gateway#module:discover_address=true)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.module_utils.federation_module import DISCOVERED_ADDRESS_FACT
from ansible_collections.meshfed.federation.plugins.module_utils.model import DEFAULT_SETTINGS

CLUSTER_VARS = {"identity": "meshfed_identity", "gateway_address": "meshfed_gateway_address",
                "exports": "meshfed_exports", "imports": "meshfed_imports"}


def _plain(value):
    """Turn Ansible's lazy/templated containers into plain dicts, lists and scalars for the modules."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def federation_spec(hostvars, clusters, current):
    if not clusters:
        raise AnsibleFilterError("federation_spec: no cluster hosts (is the inventory group meshfed_clusters empty?)")
    spec_clusters = {}
    for name in clusters:
        host = hostvars[name]
        spec_clusters[name] = {key: _plain(host.get(var)) for key, var in CLUSTER_VARS.items() if host.get(var) is not None}
    own = hostvars[current]
    settings = {key: _plain(own.get("meshfed_" + key)) for key in DEFAULT_SETTINGS if own.get("meshfed_" + key) is not None}
    facts = {name: hostvars[name].get("ansible_facts") or {} for name in clusters}
    discovered = {name: _plain(facts[name][DISCOVERED_ADDRESS_FACT]) for name in clusters
                  if facts[name].get(DISCOVERED_ADDRESS_FACT)}
    return {"clusters": spec_clusters, "settings": settings, "discovered_addresses": discovered}


class FilterModule(object):
    def filters(self):
        return {"federation_spec": federation_spec}
