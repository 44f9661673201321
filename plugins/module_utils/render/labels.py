# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ownership labels: how apply and prune recognise exactly the objects meshfed created."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "meshfed"
FEDERATION = "meshfed.io/federation"
ROLE = "meshfed.io/role"
EXPORT = "meshfed.io/export"
IMPORT = "meshfed.io/import"
ROLES = ("gateway", "export", "import")


def owner_selector(federation_name, role):
    """The labels every object of one role carries: the LIST selector of apply and prune."""
    return {MANAGED_BY: MANAGED_BY_VALUE, FEDERATION: federation_name, ROLE: role}


def selector_string(labels):
    return ",".join("%s=%s" % (k, v) for k, v in sorted(labels.items()))


def owned_labels(federation_name, role, export=None, binding=None):
    labels = owner_selector(federation_name, role)
    if export:
        labels[EXPORT] = export
    if binding:
        labels[IMPORT] = binding
    return labels
