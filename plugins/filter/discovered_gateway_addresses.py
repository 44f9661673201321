# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: discovered_gateway_addresses
short_description: The private ingress gateway addresses that discovery found so far
version_added: 0.1.0
description:
  - Reads the host fact C(meshfed_discovered_gateway_address) of every cluster host, which the
    M(meshfed.federation.private_gateway) module sets with
    O(meshfed.federation.private_gateway#module:discover_address=true), and returns the addresses found.
  - The M(meshfed.federation.service_import) module takes it as
    O(meshfed.federation.service_import#module:peer_addresses), so that a federation description computed before
    the gateways converged still reaches the addresses found since.
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
"""

EXAMPLES = r"""
- name: Consume the imports of this cluster with the addresses discovered in this run
  meshfed.federation.service_import:
    federation: "{{ meshfed_validated.federation }}"
    cluster: "{{ inventory_hostname }}"
    peer_addresses: "{{ hostvars | meshfed.federation.discovered_gateway_addresses(groups['meshfed_clusters']) }}"
"""

RETURN = r"""
_value:
  description:
    - Cluster name to C({address, port}), for the clusters whose discovery found an address; clusters not asked or
      whose load balancer has not given an address yet are left out.
  type: dict
"""

from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import discovered_gateway_addresses


class FilterModule(object):
    def filters(self):
        return {"discovered_gateway_addresses": discovered_gateway_addresses}
