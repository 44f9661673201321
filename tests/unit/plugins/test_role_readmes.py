# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role has the README.md Galaxy's importer requires, naming the role and each option of its argument_specs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = sorted(os.listdir(os.path.join(REPO, "roles")))


@pytest.mark.parametrize("role", ROLES)
def test_role_readme_names_every_option(role):
    with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as f:
        options = yaml.safe_load(f)["argument_specs"]["main"]["options"]
    with open(os.path.join(REPO, "roles", role, "README.md")) as f:
        readme = f.read()
    assert readme.startswith("# meshfed.federation.%s\n" % role)
    assert [name for name in options if "| `%s`" % name not in readme] == []
