# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: federation_spec
short_description: Collect the federation description from the inventory
version_added: 0.1.0
description:
  - Reads the C(meshfed_*) variables of every cluster host and the federation-wide settings of the current host,
    and returns the description that the C(meshfed.federation) modules validate and render.
  - Per cluster it reads C(meshfed_identity), C(meshfed_gateway_address), C(meshfed_exports) and C(meshfed_imports).
  - Settings are read from C(meshfed_federation_name), C(meshfed_gateway_namespace), C(meshfed_istio_api_version),
    C(meshfed_cert_delivery), C(meshfed_cluster_domain), C(meshfed_ingress_port), C(meshfed_egress_port),
    C(meshfed_ingress_service_type), C(meshfed_autoscale_min), C(meshfed_autoscale_max),
    C(meshfed_autoscale_cpu_percent), C(meshfed_gateway_image), C(meshfed_istio_revision) and
    C(meshfed_allow_local_gateway_addresses) when defined.
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
- name: Describe the federation once for every module call
  ansible.builtin.set_fact:
    meshfed_federation: "{{ hostvars | meshfed.federation.federation_spec(groups['meshfed_clusters'], inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description:
    - C({clusters, settings, discovered_addresses}) where C(clusters) maps each cluster name to its identity, gateway
      address, exports and imports, and C(discovered_addresses) maps cluster names to the gateway address that
      discovery found, as the P(meshfed.federation.discovered_gateway_addresses#filter) filter returns them.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.plugin_utils.inventory import federation_spec as read_federation_spec


def federation_spec(hostvars, clusters, current):
    if not clusters:
        raise AnsibleFilterError("federation_spec: no cluster hosts (is the inventory group meshfed_clusters empty?)")
    return read_federation_spec(hostvars, clusters, current)


class FilterModule(object):
    def filters(self):
        return {"federation_spec": federation_spec}
