# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  federation:
    description:
      - The whole federation as the inventory describes it, C({clusters, settings, discovered_addresses}),
        usually built with the P(meshfed.federation.federation_spec#filter) filter.
      - C(discovered_addresses) maps cluster names to the C({address, port}) of their private ingress gateway
        found by discovery, for clusters whose C(meshfed_gateway_address) is C(discover).
      - It is validated as a whole before anything is sent to a cluster; every problem is reported at once,
        naming the cluster, the inventory variable, the list item and the field.
    type: dict
    required: true
  cluster:
    description:
      - Name of the cluster (inventory host) this call converges.
    type: str
    required: true
  state:
    description:
      - V(present) converges the cluster to exactly the objects the federation wants for this role, deleting
        those it owns and no longer wants.
      - V(absent) deletes every object of this role that meshfed owns in the cluster.
    type: str
    choices: [present, absent]
    default: present
"""
