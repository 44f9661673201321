# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: federation_description
short_description: Collect the federation's description from the inventory
version_added: 0.1.0
description:
  - Reads the C(meshfed_*) variables of every cluster host and the federation-wide settings of the current host,
    and returns the federation's description, which M(meshfed.federation.federation_model) validates once.
  - Per cluster it reads C(meshfed_identity), C(meshfed_gateway_address), C(meshfed_exports) and C(meshfed_imports).
  - Settings are read from C(meshfed_federation_name), C(meshfed_gateway_namespace), C(meshfed_istio_api_version),
    C(meshfed_cert_delivery), C(meshfed_cluster_domain), C(meshfed_ingress_port), C(meshfed_egress_port),
    C(meshfed_ingress_service_type), C(meshfed_autoscale_min), C(meshfed_autoscale_max),
    C(meshfed_autoscale_cpu_percent), C(meshfed_gateway_image), C(meshfed_istio_revision),
    C(meshfed_istio_version),
    C(meshfed_allow_local_gateway_addresses), C(meshfed_ingress_service_annotations),
    C(meshfed_ingress_load_balancer_source_ranges), C(meshfed_ingress_external_traffic_policy),
    C(meshfed_peer_tcp_keepalive), C(meshfed_trust_domain), C(meshfed_party) and C(meshfed_ca_scope) when defined.
  - Across organizations, the current host's C(meshfed_peers) (the peer parties, each with its peering bundle and
    pinned signer fingerprint) become C(peers); a relative C(bundle) path is taken from the inventory's directory.
options:
  _input:
    description: The C(hostvars) of the play.
    type: dict
    required: true
  clusters:
    description: Names of the cluster hosts, usually C(groups['meshfed_clusters']).
    type: list
    elements: str
    required: true
  current:
    description: The host whose variables give the federation-wide settings, usually C(inventory_hostname).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Validate the federation the inventory describes
  meshfed.federation.federation_model:
    federation: "{{ hostvars | meshfed.federation.federation_description(groups['meshfed_clusters'], inventory_hostname) }}"
  run_once: true
  register: meshfed_validated
"""

RETURN = r"""
_value:
  description:
    - C({clusters, settings, peers}) where C(clusters) maps each cluster name to its identity, gateway address, exports
      and imports, C(settings) holds the federation-wide settings that are defined, and C(peers) (only with
      C(meshfed_peers)) lists the peer parties.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import federation_description as describe


def federation_description(hostvars, clusters, current):
    if not clusters:
        raise AnsibleFilterError("federation_description: no cluster hosts (is the inventory group meshfed_clusters "
                                 "empty?)")
    return describe(hostvars, clusters, current)


class FilterModule(object):
    def filters(self):
        return {"federation_description": federation_description}
