# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service_import module's work: the imports of one cluster, their peers' addresses, host conflicts and mesh
settings checked."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import (
    GatewayAddressError, peer_addresses, placeholder_address)
from ansible_collections.meshfed.federation.plugins.module_utils.apply.engine import HostCheck
from ansible_collections.meshfed.federation.plugins.module_utils.kube.hosts import claim_places
from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import kind_api_version
from ansible_collections.meshfed.federation.plugins.module_utils.kube.mesh_settings import import_findings, import_reads
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import ClusterError
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.cluster_role import (
    converge_role, preflight_mark, settings_check)
from ansible_collections.meshfed.federation.plugins.module_utils.observe.local_copies import (
    LocalCopyError, read_balance_inputs)
from ansible_collections.meshfed.federation.plugins.module_utils.model.balance import balanced
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import EGRESS
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import (
    host_claims, render_imports)


def import_settings_check(federation, cluster):
    """The mesh settings the imports of one cluster depend on (mesh_settings.import_findings), or None."""
    if not federation.clusters[cluster].imports:
        return None
    namespaces, sidecar_namespaces = import_reads(federation, cluster)
    return settings_check(federation, import_findings, cluster, EGRESS, namespaces,
                          sidecar_namespaces=sidecar_namespaces)


def run_service_import(module):
    def render(federation, cluster, get_client):
        preflight = module.params.get("preflight")
        fallback = placeholder_address(federation.settings) if preflight else None
        try:
            inputs = None
            if any(balanced(i) for i in federation.clusters[cluster].imports):
                inputs = read_balance_inputs(get_client(), federation, cluster,
                                             placeholders=preflight or module.check_mode)
            return render_imports(federation, cluster,
                                  peer_addresses(federation, cluster, module.params["peer_addresses"], fallback),
                                  inputs)
        except GatewayAddressError as error:
            module.fail_json(msg="cluster %s: %s" % (cluster, error))
        except LocalCopyError as error:  # it names the cluster
            module.fail_json(msg=str(error), cluster=cluster, **preflight_mark(module.params))
        except ClusterError as error:
            module.fail_json(msg="%s (reading what the weighted and failover imports need)" % error, cluster=cluster,
                             **preflight_mark(module.params))

    def host_check(federation, cluster, present):
        if not present:
            return {}
        settings = federation.settings
        claims = host_claims(federation, cluster)
        api_version_of = functools.partial(kind_api_version, networking_api_version=settings.istio_api_version)
        return {"host_check": HostCheck(claims, claim_places(claims, api_version_of), settings.cluster_domain),
                "settings_check": import_settings_check(federation, cluster)}

    converge_role(module, "import", render, host_check, reads=True)
