# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role_argument_spec filter: the roles' own option specifications, for one validate_argument_spec task."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.meshfed.federation.plugins.filter.role_argument_spec import ROLES_DIR, role_argument_spec

CLUSTER_ROLES = ["private_gateway", "service_export", "service_import"]


def own_options(role):
    with open(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")) as f:
        return yaml.safe_load(f)["argument_specs"]["main"]["options"]


def test_the_options_of_every_role_named_from_its_own_specification():
    options = role_argument_spec(CLUSTER_ROLES)
    assert options == dict(item for role in CLUSTER_ROLES for item in own_options(role).items())
    assert options["service_export_force"]["type"] == "bool" and "private_gateway_wait_timeout" in options


def test_a_bad_value_of_a_role_variable_is_refused_naming_the_variable():
    """What ansible.builtin.validate_argument_spec does with it (its validator, with the role's defaults given)."""
    validator = ArgumentSpecValidator(role_argument_spec(CLUSTER_ROLES))
    assert not validator.validate({"service_export_prune": True, "service_import_state": "present"}).error_messages
    errors = validator.validate({"service_export_prune": "sometimes"}).error_messages
    assert len(errors) == 1 and "service_export_prune" in errors[0], errors
    errors = validator.validate({"private_gateway_state": "gone"}).error_messages
    assert len(errors) == 1 and "private_gateway_state" in errors[0] and "gone" in errors[0], errors


@pytest.mark.parametrize("role", ["no_such_role", "../roles/service_export"])
def test_a_role_the_collection_does_not_have_is_refused(role):
    with pytest.raises(AnsibleFilterError) as failure:
        role_argument_spec([role])
    assert repr(role) in str(failure.value) and "service_export" in str(failure.value)
