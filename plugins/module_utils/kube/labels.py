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
BINDING = "meshfed.io/binding"


def owner_selector(federation_name, role):
    """The labels every object of one role carries: the LIST selector of apply and prune."""
    return {MANAGED_BY: MANAGED_BY_VALUE, FEDERATION: federation_name, ROLE: role}


def selector_string(labels):
    return ",".join("%s=%s" % (k, v) for k, v in sorted(labels.items()))


def owned_labels(federation_name, role, export=None, import_name=None, binding=None):
    """The owner labels, and what an object stands for: an export's name, an import's local name, and for the
    objects of one (import, peer, export) binding its id."""
    labels = owner_selector(federation_name, role)
    for key, value in ((EXPORT, export), (IMPORT, import_name), (BINDING, binding)):
        if value:
            labels[key] = value
    return labels


def owning_federation(obj):
    """The meshfed federation an object belongs to (another inventory's, seen from ours), None if not meshfed's."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY) == MANAGED_BY_VALUE:
        return labels.get(FEDERATION)
    return None
