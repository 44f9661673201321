# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the gateway, export and import modules share: their arguments, loading the model, and the kinds
each role may own (so prune finds objects even when nothing of that kind is wanted any more); and the
federation_model module's work."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.meshfed.federation.plugins.module_utils.model import (
    DISCOVER, FederationModelError, build_model, clusters_needing_address)
from ansible_collections.meshfed.federation.plugins.module_utils.render.istio import security_api_version

FEDERATION_ARG_SPEC = dict(
    federation=dict(type="dict", required=True),
    cluster=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)

# The PEM files of one cluster's gateway certificate on the controller (the pki role's directory): what the
# private_gateway module delivers to the cluster and what federation_info probes the cluster's links with.
CREDENTIAL_ARG_SPEC = dict(credential=dict(type="dict", options=dict(
    cert_path=dict(type="path", required=True),
    key_path=dict(type="path", required=True, no_log=False),
    ca_path=dict(type="path", required=True),
)))

# Host fact the private_gateway module sets with the address discovery found (None until a load balancer gave one);
# the federation_spec filter hands it to the consumers as discovered_addresses.
DISCOVERED_ADDRESS_FACT = "meshfed_discovered_gateway_address"

CORE_KINDS = {
    "Namespace": "v1",
    "Secret": "v1",
    "ServiceAccount": "v1",
    "Service": "v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "Deployment": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
}

# Istio kinds outside networking.istio.io: served as security.istio.io in the version of istio_api_version.
SECURITY_KINDS = ("AuthorizationPolicy",)

# Namespace is not pruned: deleting it would delete whatever else lives in it.
ROLE_KINDS = {
    "gateway": ["Secret", "ServiceAccount", "Role", "RoleBinding", "Service", "Deployment",
                "HorizontalPodAutoscaler", "PodDisruptionBudget"],
    "export": ["Gateway", "VirtualService", "DestinationRule"],
    "import": ["Service", "ServiceEntry", "DestinationRule", "AuthorizationPolicy", "Gateway", "VirtualService"],
}


def kind_api_version(settings, kind):
    if kind in CORE_KINDS:
        return CORE_KINDS[kind]
    if kind in SECURITY_KINDS:
        return security_api_version(settings.istio_api_version)
    return settings.istio_api_version


def role_kinds(settings, role):
    """(apiVersion, kind) of every kind one role may own in a cluster."""
    return [(kind_api_version(settings, kind), kind) for kind in ROLE_KINDS[role]]


def argument_spec(auth_arg_spec, *extra_specs):
    spec = copy.deepcopy(auth_arg_spec)
    spec.update(copy.deepcopy(FEDERATION_ARG_SPEC))
    for extra in extra_specs:
        spec.update(copy.deepcopy(extra))
    return spec


def load_model(module):
    """The model of ``module.params['federation']``, or fail the module with every problem it has."""
    description = module.params["federation"]
    try:
        return build_model(description.get("clusters"), description.get("settings"))
    except FederationModelError as error:
        module.fail_json(msg=str(error), errors=error.errors)


def load_federation(module):
    """Validate the whole federation; on any problem fail before a single request reaches a cluster."""
    federation = load_model(module)
    if module.params["cluster"] not in federation.clusters:
        module.fail_json(msg="cluster '%s' is not part of the federation (clusters: %s)"
                         % (module.params["cluster"], ", ".join(sorted(federation.clusters))))
    return federation


FEDERATION_MODEL_MODULE = dict(argument_spec=dict(federation=dict(type="dict", required=True)),
                               supports_check_mode=True)


def summarize_cluster(cluster):
    return {
        "identity": cluster.identity,
        "gateway_address": cluster.gateway_address if cluster.gateway_address == DISCOVER
        else "%s:%d" % cluster.gateway_address,
        "exports": [{"name": e.name, "protocol": e.protocol,
                     "service": "%s/%s:%d" % e.service, "subset": e.subset.name if e.subset else None,
                     "consumers": list(e.consumers)} for e in cluster.exports],
        "imports": [{"name": i.name, "namespace": i.namespace, "port": i.port, "protocol": i.protocol,
                     "from": [{"cluster": s.cluster, "export": s.export, "weight": s.weight} for s in i.sources],
                     "local_weight": i.local.weight if i.local else None} for i in cluster.imports],
    }


def run_federation_model(module):
    """Validate the federation and summarize it per cluster (module.exit_json); every problem at once. The
    validated description is returned too: the cluster modules take it without reading the inventory again."""
    federation = load_model(module)
    discovered = module.params["federation"].get("discovered_addresses") or {}
    module.exit_json(
        changed=False,
        federation=module.params["federation"],
        clusters={name: summarize_cluster(c) for name, c in federation.clusters.items()},
        needs_address_discovery=[name for name in clusters_needing_address(federation)
                                 if federation.clusters[name].gateway_address == DISCOVER and name not in discovered],
    )
