# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a PKI directory keeps what: a cluster's directory under the CA scope, and the paths of its credential."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.meshfed.federation.plugins.module_utils.model.settings import DEFAULT_SETTINGS
from ansible_collections.meshfed.federation.plugins.module_utils.pki import rotation

DEFAULT_ROOT = "~/.meshfed/pki"


def pki_dir(configured, federation_name=None):
    """The federation's PKI directory on the controller: ``configured`` (meshfed_pki_dir) when set, else
    ~/.meshfed/pki/<federation_name> (meshfed_federation_name, or its default)."""
    if configured:
        return str(configured)
    return "%s/%s" % (DEFAULT_ROOT, federation_name or DEFAULT_SETTINGS["federation_name"])


def cluster_pki_dir(pki_dir, cluster, ca_scope):
    """The directory of one cluster's CA and certificate: the PKI directory itself, or with a CA per cluster
    (meshfed_ca_scope: cluster) its subdirectory named after the cluster."""
    return pki_dir if ca_scope == "federation" else os.path.join(pki_dir, cluster)


CREDENTIAL_VARIANTS = ("current", "next", "issuing")


def credential_paths(pki_dir, cluster, clusters, ca_scope, variant="current"):
    """The credential option of a cluster's modules: its certificate and key, and the CAs its gateways trust (for
    its own party, and with a CA per cluster for every other cluster of the inventory, a party of its own, by name).

    ``variant`` "next" is the certificate a CA rotation's next CA issued (stage trust), "issuing" trusts the CAs
    that issue certificates only, not the one a rotation keeps trusted until it drops it: the credentials that
    prove a stage has reached the gateways."""
    own = cluster_pki_dir(pki_dir, cluster, ca_scope)
    leaf_dir = rotation.next_dir(own) if variant == "next" else own
    others = [] if ca_scope == "federation" else [c for c in clusters if c != cluster]

    def trusted(directory):
        return os.path.join(directory, "ca.crt") if variant == "issuing" else rotation.trusted_cas_path(directory)
    return {"cert_path": os.path.join(leaf_dir, "%s.crt" % cluster), "key_path": os.path.join(leaf_dir, "%s.key" % cluster),
            "ca_path": trusted(own),
            "party_ca_paths": dict((c, trusted(cluster_pki_dir(pki_dir, c, ca_scope))) for c in others)}
