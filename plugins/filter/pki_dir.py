# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: pki_dir
short_description: The federation's PKI directory on the controller
version_added: 0.1.0
description:
  - C(meshfed_pki_dir) when set, else C(~/.meshfed/pki/<meshfed_federation_name>).
  - The one default of the PKI directory, which the pki, private_gateway and ca_rotation roles and the playbooks
    use.
options:
  _input:
    description: C(meshfed_pki_dir), or null when it is not set.
    type: raw
    required: true
  federation_name:
    description: C(meshfed_federation_name), or null for the default federation name.
    type: str
"""

EXAMPLES = r"""
- name: Issue the federation's certificates
  ansible.builtin.include_role:
    name: meshfed.federation.pki
  vars:
    pki_dir: "{{ meshfed_pki_dir | default(none) | meshfed.federation.pki_dir(meshfed_federation_name | default(none)) }}"
"""

RETURN = r"""
_value:
  description: The directory, C(~) not expanded.
  type: str
"""

from ansible_collections.meshfed.federation.plugins.module_utils.pki.directory import pki_dir


class FilterModule(object):
    def filters(self):
        return {"pki_dir": pki_dir}
