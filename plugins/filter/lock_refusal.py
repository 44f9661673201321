# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lock_refusal
short_description: The one message that stops every cluster when another run holds the federation's lock in one
version_added: 0.1.0
description:
  - Reads what the federation lock's task (M(meshfed.federation.federation_lock), registered as C(meshfed_lock_result))
    returned on every cluster host given and returns one message naming each cluster where another run holds the lock,
    with its holder; an empty string when this run holds the lock everywhere it could reach.
  - A cluster whose lock task failed for another reason (its API server unreachable, say) is not a refusal; it is left
    out of the run, as it would be without the lock.
  - C(playbooks/tasks/lock.yml) fails every cluster with it, before anything is planned.
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
"""

EXAMPLES = r"""
- name: Stop every cluster when another run holds the federation's lock in one
  ansible.builtin.fail:
    msg: "{{ meshfed_lock_refusal }}"
  vars:
    meshfed_lock_refusal: "{{ hostvars | meshfed.federation.lock_refusal(ansible_play_hosts_all) }}"
  when: meshfed_lock_refusal | length > 0
"""

RETURN = r"""
_value:
  description:
    - For example C(Another run holds the federation's lock in cluster2, so this run changes no cluster. cluster
      cluster2 ... is held by ci@runner-7 pid 311 ...), or an empty string.
  type: str
"""

from ansible_collections.meshfed.federation.plugins.plugin_utils.lock_verdict import refusal_verdict
from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import LOCK_RESULT, registered_results


def lock_refusal(hostvars, clusters):
    registered = registered_results(hostvars, clusters, (LOCK_RESULT,))
    return refusal_verdict([(name, registered[name][0]) for name in clusters])


class FilterModule(object):
    def filters(self):
        return {"lock_refusal": lock_refusal}
