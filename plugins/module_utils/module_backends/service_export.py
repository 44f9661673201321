# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service_export module's work: the exports of one cluster, with the mesh settings they depend on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import export_findings, export_reads
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.cluster_role import (
    converge_role, settings_check)
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import INGRESS
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports


def export_settings_check(federation, cluster):
    """The mesh settings the exports of one cluster depend on (mesh_settings.export_findings), or None."""
    if not federation.clusters[cluster].exports:
        return None
    namespaces, services = export_reads(federation, cluster)
    return settings_check(federation, export_findings, cluster, INGRESS, namespaces, services=services)


def run_service_export(module):
    def mesh_settings(federation, cluster, present):
        return {"settings_check": export_settings_check(federation, cluster)} if present else {}

    converge_role(module, "export", render_exports, mesh_settings, versioned=True)
