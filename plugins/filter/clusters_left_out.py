# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: clusters_left_out
short_description: The clusters a run left out, and why
version_added: 0.1.0
description:
  - Names each cluster host of the run that is no longer in the play (its preflight or one of its roles failed, for
    example its API server was unreachable), with the message of its failed task; an empty string when the run
    went through on every cluster it ran on.
  - A cluster host for which none of the run's tasks registered a result (C(meshfed_lock_result),
    C(meshfed_gateway_preflight_result), C(meshfed_preflight_result), C(meshfed_gateways_and_exports_result),
    C(meshfed_imports_result), C(private_gateway_result), C(service_export_result), C(service_import_result)) was not
    part of the run (outside C(--limit), say) and is not named.
options:
  _input:
    description: The C(hostvars) of the play.
    type: dict
    required: true
  clusters:
    description: Every cluster host of the play, usually C(ansible_play_hosts_all).
    type: list
    elements: str
    required: true
  remaining:
    description: The cluster hosts still in the play, usually C(ansible_play_hosts).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Name the clusters this run left out
  ansible.builtin.debug:
    msg: "{{ meshfed_left_out }}"
  vars:
    meshfed_left_out: "{{ hostvars | meshfed.federation.clusters_left_out(ansible_play_hosts_all, ansible_play_hosts) }}"
  when: meshfed_left_out | length > 0
  run_once: true
"""

RETURN = r"""
_value:
  description:
    - For example C(This run left out 1 of its 3 clusters, where it failed. cluster cluster3 ... unreachable), or an empty
      string.
  type: str
"""

from ansible_collections.meshfed.federation.plugins.plugin_utils.left_out import left_out_message
from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import (
    CONVERGE_RESULTS, LOCK_RESULT, PREFLIGHT_RESULTS, ROLE_RESULTS, registered_results)


def clusters_left_out(hostvars, clusters, remaining):
    # the lock's task first: a cluster unreachable from the start fails there
    registered = (LOCK_RESULT,) + PREFLIGHT_RESULTS + CONVERGE_RESULTS + ROLE_RESULTS
    return left_out_message(list(clusters), list(remaining), registered_results(hostvars, clusters, registered))


class FilterModule(object):
    def filters(self):
        return {"clusters_left_out": clusters_left_out}
