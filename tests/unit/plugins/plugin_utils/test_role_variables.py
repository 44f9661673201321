# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster roles' variables checked as each role checks them, for the federated_cluster action."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml
from ansible_collections.meshfed.federation.plugins.plugin_utils.role_variables import (
    ROLES_DIR, role_argument_spec, role_variable_errors)

CLUSTER_ROLES = ["private_gateway", "service_export", "service_import"]


def own_options(role):
    with open(os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")) as f:
        return yaml.safe_load(f)["argument_specs"]["main"]["options"]


def test_the_options_of_every_role_named_from_its_own_specification():
    options = role_argument_spec(CLUSTER_ROLES)
    assert options == dict(item for role in CLUSTER_ROLES for item in own_options(role).items())
    assert options["service_export_force"]["type"] == "bool" and "private_gateway_wait_timeout" in options


def test_a_bad_value_of_a_role_variable_is_refused_naming_the_variable():
    """What ansible.builtin.validate_argument_spec says of it (its validator, with the role's defaults given)."""
    spec = role_argument_spec(CLUSTER_ROLES)
    assert not role_variable_errors(spec, {"service_export_prune": True, "service_import_state": "present"})
    errors = role_variable_errors(spec, {"service_export_prune": "sometimes"})
    assert len(errors) == 1 and "service_export_prune" in errors[0], errors
    errors = role_variable_errors(spec, {"private_gateway_state": "gone", "private_gateway_wait_timeout": 30})
    assert len(errors) == 1 and "private_gateway_state" in errors[0] and "gone" in errors[0], errors


def test_variables_no_role_has_are_not_checked():
    spec = role_argument_spec(["service_export"])
    assert role_variable_errors(spec, {"service_import_state": "gone", "meshfed_anything": object()}) == []


@pytest.mark.parametrize("role", ["no_such_role", "../roles/service_export"])
def test_a_role_the_collection_does_not_have_is_refused(role):
    with pytest.raises(ValueError) as failure:
        role_argument_spec([role])
    assert repr(role) in str(failure.value) and "service_export" in str(failure.value)
