# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  peer_addresses:
    description:
      - Addresses of peers' private ingress gateways found by discovery (their Service C(status.loadBalancer)), as a
        mapping of cluster name to C({address, port}), usually
        C(hostvars | meshfed.federation.discovered_gateway_addresses(groups['meshfed_clusters'])).
      - Used only for peers whose C(meshfed_gateway_address) is C(discover).
      - A loopback or link-local address is refused unless the federation's C(allow_local_gateway_addresses)
        (C(meshfed_allow_local_gateway_addresses)) is true.
    type: dict
    default: {}
"""
