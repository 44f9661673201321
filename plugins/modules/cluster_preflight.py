#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cluster_preflight
short_description: Plan every role of one cluster in one task, writing nothing
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Runs the preflight of M(meshfed.federation.private_gateway), M(meshfed.federation.service_export) and
    M(meshfed.federation.service_import) for one cluster, in that order, in one task. Each is the role module run with
    C(preflight=true) and the options given for it here; the result of each is what the role's own task registers.
  - It writes nothing. C(playbooks/federate.yml) runs it on every cluster before it changes any (the preflight), then
    stops every cluster when one is blocked and skips the converge when no role of any cluster has a write to do; the
    P(meshfed.federation.preflight_failure#filter) and P(meshfed.federation.preflight_unchanged#filter) filters read
    its RV(roles).
  - One task where there were three saves two task rounds per run (measured at K = 100 in docs/performance.md).
  - The first role that fails (a cluster that cannot be read, an option a role module refuses) ends the task with
    its message; the roles after it are not planned.
  - The work is done by the collection's action plugin of the same name, which runs each role module as that module's
    own task would (in Ansible's worker on a local connection; see the C(action) attribute).
extends_documentation_fragment:
  - meshfed.federation.kubernetes_auth
  - meshfed.federation.federation
  - meshfed.federation.attributes
  - meshfed.federation.attributes.actiongroup_meshfed
attributes:
  check_mode:
    support: full
    details:
      - It writes nothing in any mode.
  diff_mode:
    support: none
  async:
    support: none
options:
  roles:
    description:
      - The roles to plan, always in the order C(private_gateway), C(service_export), C(service_import).
      - C(playbooks/federate.yml) plans the private gateways of every cluster first when a cluster's gateway address is
        discovered (C(meshfed_gateway_address=discover)), so that the imports are planned with the addresses found.
    type: list
    elements: str
    choices: [private_gateway, service_export, service_import]
    default: [private_gateway, service_export, service_import]
  private_gateway:
    description:
      - The options of M(meshfed.federation.private_gateway) for this cluster besides the connection, O(federation),
        O(cluster) and C(preflight) (which this task sets), for example C(credential), C(state), C(force) and C(prune).
      - Checked by that module as it checks them in its own task.
    type: dict
    default: {}
  service_export:
    description:
      - The options of M(meshfed.federation.service_export) for this cluster besides the connection, O(federation),
        O(cluster) and C(preflight), for example C(state), C(force) and C(prune).
    type: dict
    default: {}
  service_import:
    description:
      - The options of M(meshfed.federation.service_import) for this cluster besides the connection, O(federation),
        O(cluster) and C(preflight), for example C(peer_addresses), C(state), C(force) and C(prune).
    type: dict
    default: {}
requirements:
  - kubernetes >= 24.2.0
  - PyYAML >= 3.11
"""

EXAMPLES = r"""
- name: Plan every role of this cluster
  meshfed.federation.cluster_preflight:
    federation: "{{ meshfed_federation }}"
    cluster: "{{ inventory_hostname }}"
    context: "{{ inventory_hostname }}"
    private_gateway:
      credential: "{{ meshfed_pki_dir | meshfed.federation.gateway_credential(inventory_hostname, groups['meshfed_clusters']) }}"
    service_import:
      peer_addresses: "{{ hostvars | meshfed.federation.discovered_gateway_addresses(groups['meshfed_clusters']) }}"
  register: meshfed_preflight_result
  # then, on every cluster: hostvars | meshfed.federation.preflight_failure(ansible_play_hosts) (see that filter)
"""

RETURN = r"""
roles:
  description:
    - Role (C(private_gateway), C(service_export), C(service_import)) -> the result of its module's preflight, as the
      role's own task with C(preflight=true) registers it (C(blocked), C(conflict_reasons), C(changes), C(summary),
      ...). A role after one that failed, or not in O(roles), is missing.
  returned: always
  type: dict
api_requests:
  description: Number of API requests the three roles made, by verb.
  returned: always
  type: dict
  sample: {"list": 23, "get": 5, "apply": 0, "delete": 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import CLUSTER_PREFLIGHT_MODULE


def main():
    module = AnsibleModule(**CLUSTER_PREFLIGHT_MODULE)
    module.fail_json(msg="meshfed.federation.cluster_preflight runs through its action plugin, which runs the three "
                         "role modules; this file is its documentation", cluster=module.params["cluster"])


if __name__ == "__main__":
    main()
