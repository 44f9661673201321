# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: preflight_failure
short_description: The one message that stops every cluster when the preflight of one is blocked
version_added: 0.1.0
description:
  - Reads the preflight results of the private_gateway, service_export and service_import roles on every cluster host
    given, the RV(meshfed.federation.federated_cluster#module:roles) of the M(meshfed.federation.federated_cluster)
    tasks registered as C(meshfed_gateway_preflight_result) and C(meshfed_preflight_result), or else what the roles'
    own tasks registered with C(preflight=true) (C(private_gateway_result), C(service_export_result),
    C(service_import_result)). It returns one message naming each cluster where objects are in the way or mesh
    settings meshfed cannot work with are found (an ambient namespace, an exported Service hidden from the gateway
    namespace, a Sidecar hiding the egress gateway), with what blocks it there; an empty string when none is blocked.
  - C(playbooks/federate.yml) fails every cluster with it before any cluster is changed.
options:
  _input:
    description: The C(hostvars) of the play.
    type: dict
    required: true
  clusters:
    description: The cluster hosts whose preflight ran, usually C(ansible_play_hosts) (a cluster that could not be read
      has failed its preflight and left the play).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Stop every cluster when one has objects in the way
  ansible.builtin.fail:
    msg: "{{ meshfed_preflight_failure }}"
  vars:
    meshfed_preflight_failure: "{{ hostvars | meshfed.federation.preflight_failure(ansible_play_hosts) }}"
  when: meshfed_preflight_failure | length > 0
"""

RETURN = r"""
_value:
  description:
    - For example C(Objects are in the way in cluster2 (1 of the 3 clusters the preflight read), so this run changes
      no cluster. cluster cluster2 ... Nothing was changed.), or an empty string.
  type: str
"""

from ansible_collections.meshfed.federation.plugins.plugin_utils.preflight_verdict import preflight_failure as verdict
from ansible_collections.meshfed.federation.plugins.plugin_utils.preflight_verdict import role_results


def preflight_failure(hostvars, clusters):
    return verdict(role_results(hostvars, clusters))


class FilterModule(object):
    def filters(self):
        return {"preflight_failure": preflight_failure}
