#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: federated_cluster
short_description: Converge, or plan, the private gateways, exports and imports of one cluster in one task
version_added: 0.1.0
author: meshfed maintainers (@meshfed)
description:
  - Runs M(meshfed.federation.private_gateway), M(meshfed.federation.service_export) and
    M(meshfed.federation.service_import) for one cluster, those of O(roles), in that order, in one task. Each is the
    role module run with the options given for it here and the task's O(preflight); the result of each is what the
    role's own task registers.
  - First it checks the three roles' variables that are set (their defaults, the inventory's, extra vars), whichever
    roles it runs, as each role's
    own C(meta/argument_specs.yml) checks them, with the message of M(ansible.builtin.validate_argument_spec). A task
    that imports the roles with C(tasks_from=variables) gets their defaults without their tasks. A bad value fails the
    task naming the variable, before any cluster is read.
  - C(playbooks/federate.yml) runs it with O(preflight=true) on every cluster before it changes any (the preflight),
    stops every cluster when one is blocked, and skips the converge when no role of any cluster has a write to do;
    the P(meshfed.federation.preflight_failure#filter) and P(meshfed.federation.preflight_unchanged#filter) filters
    read its RV(roles). Its converge is two tasks, the gateways and exports of every cluster, then the imports, so
    that no import sends a request to a peer's export before that export is there.
  - One task where there were three saves two task rounds, and the three argument checks' rounds (measured at
    K = 100 in docs/performance.md).
  - The first role that fails (a cluster that cannot be read, an option a role module refuses, objects in the way
    of a converge) ends the task with its message; the roles after it do not run.
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
      - Each role module runs in check mode. With O(preflight=true) it writes nothing in any mode.
  diff_mode:
    support: full
    details:
      - The diffs of every role, in the order they ran.
  async:
    support: none
options:
  roles:
    description:
      - The roles to run, always in the order C(private_gateway), C(service_export), C(service_import).
      - C(playbooks/federate.yml) plans the private gateways of every cluster first when a cluster's gateway address is
        discovered (C(meshfed_gateway_address=discover)), so that the imports are planned with the addresses found;
        it converges the gateways and exports of every cluster before any import.
    type: list
    elements: str
    choices: [private_gateway, service_export, service_import]
    default: [private_gateway, service_export, service_import]
  preflight:
    description:
      - Only plan every role, with the code a run plans with, and write nothing (each role module's C(preflight)).
    type: bool
    default: false
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
  meshfed.federation.federated_cluster:
    federation: "{{ meshfed_federation }}"
    cluster: "{{ inventory_hostname }}"
    context: "{{ inventory_hostname }}"
    preflight: true
    private_gateway:
      credential: "{{ meshfed_pki_dir | meshfed.federation.gateway_credential(inventory_hostname, groups['meshfed_clusters']) }}"
    service_import:
      peer_addresses: "{{ hostvars | meshfed.federation.discovered_gateway_addresses(groups['meshfed_clusters']) }}"
  register: meshfed_preflight_result
  # then, on every cluster: hostvars | meshfed.federation.preflight_failure(ansible_play_hosts) (see that filter)

- name: Converge the gateways and exports of this cluster
  meshfed.federation.federated_cluster:
    federation: "{{ meshfed_federation }}"
    cluster: "{{ inventory_hostname }}"
    context: "{{ inventory_hostname }}"
    roles: [private_gateway, service_export]
    private_gateway:
      credential: "{{ meshfed_pki_dir | meshfed.federation.gateway_credential(inventory_hostname, groups['meshfed_clusters']) }}"
    service_export:
      prune: true
"""

RETURN = r"""
roles:
  description:
    - Role (C(private_gateway), C(service_export), C(service_import)) -> the result of its module, as the role's own
      task registers it (C(changes), C(summary), with O(preflight=true) C(blocked) and C(conflict_reasons), ...). A role
      after one that failed, or not in O(roles), is missing.
  returned: when the roles' variables passed their check
  type: dict
api_requests:
  description: Number of API requests the roles made, by verb.
  returned: when the roles' variables passed their check
  type: dict
  sample: {"list": 23, "get": 5, "apply": 0, "delete": 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATED_CLUSTER_MODULE


def main():
    module = AnsibleModule(**FEDERATED_CLUSTER_MODULE)
    module.fail_json(msg="meshfed.federation.federated_cluster runs through its action plugin, which runs the three "
                         "role modules; this file is its documentation", cluster=module.params["cluster"])


if __name__ == "__main__":
    main()
