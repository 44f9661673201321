# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: gateway_credential
short_description: Where one cluster's gateway certificate, key and trusted CAs are in the PKI directory
version_added: 0.1.0
description:
  - Returns the C(credential) option of M(meshfed.federation.private_gateway) and
    M(meshfed.federation.federation_info) for one cluster, in the layout of the meshfed.federation.pki role.
  - With one CA for the inventory (C(meshfed_ca_scope=federation), the default) the files are
    C(<pki_dir>/trusted-cas.pem) (the CA, and during a CA rotation the other CA as well), C(<pki_dir>/<cluster>.crt)
    and C(<pki_dir>/<cluster>.key).
  - With a CA per cluster (C(meshfed_ca_scope=cluster)) they are in C(<pki_dir>/<cluster>/), and C(party_ca_paths)
    maps every other cluster to its CAs C(<pki_dir>/<other>/trusted-cas.pem). The gateway trusts that CA, and only
    that CA, for the servers and links of that cluster.
options:
  _input:
    description: The PKI directory on the controller (C(meshfed_pki_dir)).
    type: path
    required: true
  cluster:
    description: The cluster, usually C(inventory_hostname).
    type: str
    required: true
  clusters:
    description: Every cluster of the inventory, usually C(groups['meshfed_clusters']).
    type: list
    elements: str
    required: true
  ca_scope:
    description: V(federation) for one CA, V(cluster) for a CA per cluster (C(meshfed_ca_scope)).
    type: str
    default: federation
  variant:
    description:
      - V(current) is the credential the gateways use.
      - V(next) has the certificate and key the next CA of a rotation issued (stage trust), and V(issuing) trusts
        only the CAs that issue certificates. Probes with them prove that a stage of a CA rotation reached the
        gateways (playbooks/rotate_certificates.yml).
    type: str
    choices: [current, next, issuing]
    default: current
"""

EXAMPLES = r"""
- name: Converge the gateways with the cluster's credential
  meshfed.federation.private_gateway:
    federation: "{{ meshfed_federation }}"
    cluster: "{{ inventory_hostname }}"
    credential: "{{ meshfed_pki_dir | meshfed.federation.gateway_credential(inventory_hostname, groups['meshfed_clusters'],
      meshfed_ca_scope | default('federation')) }}"
"""

RETURN = r"""
_value:
  description: C({cert_path, key_path, ca_path, party_ca_paths}).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.meshfed.federation.plugins.module_utils.model.types import CA_SCOPES
from ansible_collections.meshfed.federation.plugins.module_utils.pki.directory import (
    credential_paths, CREDENTIAL_VARIANTS)


def gateway_credential(pki_dir, cluster, clusters, ca_scope="federation", variant="current"):
    if ca_scope not in CA_SCOPES:
        raise AnsibleFilterError("gateway_credential: meshfed_ca_scope %r must be one of %s"
                                 % (ca_scope, ", ".join(CA_SCOPES)))
    if variant not in CREDENTIAL_VARIANTS:
        raise AnsibleFilterError("gateway_credential: variant %r must be one of %s"
                                 % (variant, ", ".join(CREDENTIAL_VARIANTS)))
    return credential_paths(str(pki_dir), str(cluster), [str(c) for c in clusters], ca_scope, variant)


class FilterModule(object):
    def filters(self):
        return {"gateway_credential": gateway_credential}
