#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: federation_info
short_description: Report what one federated cluster exports to whom, imports from whom, and its gateways' health
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Reads one cluster of a federation of Istio meshes and reports, next to what the inventory wants, what is
    applied there, whether the private gateways are ready, the address peers reach its ingress gateway at (the
    discovered C(status.loadBalancer) of the gateway Service), and when its gateway certificate expires.
  - Changes nothing. The private_gateway role uses it to discover gateway addresses; C(status.yml) prints it.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  federation:
    description:
      - The whole federation as the inventory describes it, C({clusters, settings}), usually built with the
        P(meshfed.federation.federation_spec#filter) filter.
    type: dict
    required: true
  cluster:
    description: Name of the cluster (inventory host) to report on.
    type: str
    required: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
requirements:
  - kubernetes >= 24.2.0
  - cryptography
"""

EXAMPLES = r"""
- name: Read the federation state of a cluster
  meshfed.federation.federation_info:
    federation: "{{ hostvars | meshfed.federation.federation_spec(groups['meshfed_clusters'], inventory_hostname) }}"
    cluster: "{{ inventory_hostname }}"
    context: "{{ meshfed_context }}"
  register: state

- name: Fail when the gateway certificate expires within two weeks
  ansible.builtin.assert:
    that: state.cluster.certificate.days_left > 14
"""

RETURN = r"""
cluster:
  description: The state of the cluster.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: cluster2
    identity:
      description: Federation identity of the cluster.
      type: str
      sample: c2.example.com
    reachable:
      description: Whether the API server answered.
      type: bool
    error:
      description: Why the cluster could not be read, naming it.
      type: str
      returned: when not reachable
    ingress_gateway:
      description: C(deployed), C(ready), C(replicas), C(available_replicas) of the private ingress gateway and
        C(address) (C({address, port}) peers reach it at, discovered or configured; null when unknown).
      type: dict
    egress_gateway:
      description: C(deployed), C(ready), C(replicas), C(available_replicas) of the private egress gateway.
      type: dict
    certificate:
      description: C(subject), C(issuer), C(serial), C(not_after) and C(days_left) of the gateway certificate in the
        cluster (never the key); null when the credential Secret is missing.
      type: dict
    exports:
      description: Exports of the cluster with their consumers and whether their Gateway is applied.
      type: list
      elements: dict
    imports:
      description: Imports of the cluster with their sources and weights and whether their VirtualService is applied.
      type: list
      elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.info import FEDERATION_INFO_MODULE, run_federation_info


def main():
    run_federation_info(AnsibleModule(**FEDERATION_INFO_MODULE))


if __name__ == "__main__":
    main()
