# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one default of the PKI directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.filter.pki_dir import FilterModule

pki_dir = FilterModule().filters()["pki_dir"]


def test_meshfed_pki_dir_when_set_else_one_per_federation_name():
    assert pki_dir("/srv/pki", "demo") == "/srv/pki"
    assert pki_dir(None, "demo") == "~/.meshfed/pki/demo"
    assert pki_dir(None, None) == "~/.meshfed/pki/meshfed"
