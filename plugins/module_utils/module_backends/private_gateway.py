# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The private_gateway module's work: the gateways of one cluster, their credential, their address discovered."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import functools
from ansible_collections.meshfed.federation.plugins.module_utils.observe.discovery import discover_ingress_address
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import clusters_to_discover, peer_parties
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.cluster_role import (
    RENDERED, converge_role)
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways


def _read_pem(module, path, what):
    try:
        with open(path) as pem:
            return pem.read()
    except (IOError, OSError) as error:
        if module.check_mode and error.errno == errno.ENOENT:
            # a check run before the first real one: the PKI's check mode wrote no files yet
            return "not issued yet: %s" % path
        module.fail_json(msg="cluster %s: cannot read %s %s: %s" % (module.params["cluster"], what, path, error.strerror))


def read_credential(module, paths):
    """The PEM texts of the cluster's certificate, key and CA, and ``party_cas``: party -> CA of the other parties
    of this inventory (a CA per cluster)."""
    credential = dict((field, _read_pem(module, paths[path_key], path_key))
                      for field, path_key in (("cert", "cert_path"), ("key", "key_path"), ("ca", "ca_path")))
    credential["party_cas"] = dict((party, _read_pem(module, path, "party_ca_paths[%s]" % party))
                                   for party, path in (paths.get("party_ca_paths") or {}).items())
    return credential


def gateway_credential(module, federation):
    """The PEM texts of the gateway Secrets, or None where no Secret is to be written (rendered without secrets)."""
    state = module.params["state"]
    if state == "absent" or (state == RENDERED and not module.params["render_secrets"]):
        return None
    cluster = federation.clusters[module.params["cluster"]]
    missing = [party for party in peer_parties(federation, cluster)
               if party not in federation.peers and party not in (module.params["credential"].get("party_ca_paths") or {})]
    if missing:
        module.fail_json(msg="cluster %s: credential.party_ca_paths has no CA certificate for %s, whose CA this "
                             "cluster's gateways must trust (meshfed_ca_scope: cluster)"
                             % (cluster.name, ", ".join(missing)))
    return read_credential(module, module.params["credential"])


def discovers_address(federation, cluster_name, asked):
    """Whether the run reads the ingress gateway's address from its Service: as asked, or by default when the
    federation needs it and the inventory leaves it to discovery (clusters_to_discover)."""
    return asked if asked is not None else cluster_name in clusters_to_discover(federation)


def run_private_gateway(module):
    def namespace_and_discovery(federation, cluster, present):
        gateway_namespace = federation.settings.gateway_namespace
        extra = {"release_namespace": gateway_namespace}
        if present and discovers_address(federation, cluster, module.params["discover_address"]):
            extra["report"] = functools.partial(discover_ingress_address, gateway_namespace=gateway_namespace,
                                                timeout=module.params["discover_timeout"], check_mode=module.check_mode)
        return extra

    converge_role(module, "gateway", lambda federation, cluster, version: render_gateways(
        federation, cluster, gateway_credential(module, federation), version), namespace_and_discovery, versioned=True)
