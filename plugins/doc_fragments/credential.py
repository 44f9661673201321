# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  credential:
    description:
      - Files on the controller holding this cluster's gateway certificate, its private key and the CA certificate,
        as written by M(meshfed.federation.federation_pki) (the meshfed.federation.pki role writes them as
        C(<pki_dir>/<cluster>.crt), C(<pki_dir>/<cluster>.key) and C(<pki_dir>/ca.crt)).
      - M(meshfed.federation.private_gateway) installs them for the gateways and needs them with C(state=present);
        M(meshfed.federation.federation_info) presents the certificate in its link probes, trusts for each peer only
        its party's CA, and needs them with C(probe=true).
    type: dict
    suboptions:
      cert_path:
        description: PEM certificate of the cluster's gateways.
        type: path
        required: true
      key_path:
        description: PEM private key of that certificate.
        type: path
        required: true
      ca_path:
        description: PEM certificate of this cluster's CA (its own party's; every cluster's with one CA).
        type: path
        required: true
      party_ca_paths:
        description:
          - With a CA per cluster (C(meshfed_ca_scope=cluster)), the PEM CA certificate of every other cluster of the
            inventory by cluster name, as the P(meshfed.federation.gateway_credential#filter) filter gives them.
            A peer party's CAs come from its peering bundle instead.
        type: dict
        default: {}
"""
