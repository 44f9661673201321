# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: role_argument_spec
short_description: The options of some of this collection's roles, to check their variables in one task
version_added: 0.1.0
description:
  - The C(options) of the C(main) entry point of each role named, from its own C(meta/argument_specs.yml), in one
    dictionary, for the C(argument_spec) of M(ansible.builtin.validate_argument_spec).
  - C(playbooks/federate.yml) checks the variables of the three cluster roles so in one task before its preflight,
    which runs their modules without importing their tasks (M(meshfed.federation.cluster_preflight)).
options:
  _input:
    description: Names of roles of meshfed.federation, for example V(service_export).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Import the roles' defaults without their tasks
  ansible.builtin.import_role:
    name: meshfed.federation.service_export
    tasks_from: variables

- name: Check the role's variables as the role checks them
  ansible.builtin.validate_argument_spec:
    argument_spec: "{{ ['service_export'] | meshfed.federation.role_argument_spec }}"
"""

RETURN = r"""
_value:
  description: Option name -> its specification, for every option of every role named.
  type: dict
"""

import os

import yaml
from ansible.errors import AnsibleFilterError

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


def role_argument_spec(roles):
    options = {}
    for role in roles:
        path = os.path.join(ROLES_DIR, str(role), "meta", "argument_specs.yml")
        if str(role) not in os.listdir(ROLES_DIR) or not os.path.exists(path):
            raise AnsibleFilterError("role_argument_spec: meshfed.federation has no role %r with an argument "
                                     "specification (its roles: %s)" % (role, ", ".join(sorted(os.listdir(ROLES_DIR)))))
        with open(path) as f:
            options.update(yaml.safe_load(f)["argument_specs"]["main"]["options"])
    return options


class FilterModule(object):
    def filters(self):
        return {"role_argument_spec": role_argument_spec}
