# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: preflight_unchanged
short_description: Whether the preflight of every cluster planned no write at all
version_added: 0.1.0
description:
  - V(true) when the preflight of each role of each cluster given (read as
    P(meshfed.federation.preflight_failure#filter) reads it, from the M(meshfed.federation.federated_cluster) tasks'
    results or else the roles' own) planned no create, update or delete and found nothing in
    the way; V(false) otherwise, and when any of them has no such result.
  - C(playbooks/federate.yml) then skips its converge, which would read the same objects again, under the same lock,
    and write nothing.
options:
  _input: {description: "C(hostvars), where the roles' tasks registered their results.", type: dict, required: true}
  clusters: {description: "The cluster hosts whose preflight ran, usually C(ansible_play_hosts).", type: list,
             elements: str, required: true}
"""

EXAMPLES = r"""
- name: Converge only when the preflight planned a write somewhere
  ansible.builtin.include_tasks: converge.yml
  when: not (hostvars | meshfed.federation.preflight_unchanged(ansible_play_hosts))
"""

RETURN = r"""
_value: {description: V(true) when every role of every cluster given planned no write., type: bool}
"""

from ansible_collections.meshfed.federation.plugins.plugin_utils.preflight_verdict import preflight_unchanged


class FilterModule(object):
    def filters(self):
        return {"preflight_unchanged": preflight_unchanged}
