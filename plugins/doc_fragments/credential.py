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
        M(meshfed.federation.federation_info) presents the certificate in its link probes, trusts that CA only, and
        needs them with C(probe=true).
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
        description: PEM certificate of the CA that signs the peers' certificates.
        type: path
        required: true
"""
