# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster roles' variables, checked as each role checks them (its ``meta/argument_specs.yml``), for a task that
runs the roles' modules without their tasks (the federated_cluster action plugin)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

# libyaml's loader where PyYAML has it: every federated_cluster task reads the three specifications (14 ms in pure
# Python, 1 ms with it, in the worker of each cluster and task)
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")


def role_argument_spec(roles):
    """Option name -> its specification, for every option of the ``main`` entry point of every role named."""
    options = {}
    for role in roles:
        path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
        if role not in os.listdir(ROLES_DIR) or not os.path.exists(path):
            raise ValueError("meshfed.federation has no role %r with an argument specification (its roles: %s)"
                             % (role, ", ".join(sorted(os.listdir(ROLES_DIR)))))
        with open(path) as f:
            options.update(yaml.load(f, Loader=LOADER)["argument_specs"]["main"]["options"])
    return options


def role_variable_errors(spec, variables):
    """The messages of ansible.builtin.validate_argument_spec for the ``variables`` (name -> templated value) that
    ``spec`` has an option for; [] when they pass."""
    provided = dict((name, value) for name, value in variables.items() if name in spec)
    return ArgumentSpecValidator(spec).validate(provided, validate_role_argument_spec=True).error_messages
