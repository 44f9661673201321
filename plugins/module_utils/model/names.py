# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every name meshfed derives from the model: object names, hosts, principals, a cluster's name as part of another."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

# a cluster of a peer party is named <peer>/<cluster> in this inventory: the peer's name, then its own name for it
PEER_SEPARATOR = "/"


def short_name(*parts, **kwargs):
    """Join parts with '-'; above ``limit`` characters keep a prefix and add a stable hash."""
    limit = kwargs.get("limit", 63)
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return name[: limit - 11].rstrip("-") + "-" + digest


def binding_id(imported, source):
    """Name of one (local name, peer, export) binding; unique per consumer namespace."""
    return short_name(imported.name, name_part(source.cluster), source.export)


GATEWAY_SPIFFE_PATH = "meshfed-gateway"


def gateway_principal(identity):
    """What a gateway certificate's URI SAN carries after ``spiffe://`` (Envoy's RBAC principal for it, which an
    AuthorizationPolicy's ``source.principals`` matches)."""
    return "%s/%s" % (identity, GATEWAY_SPIFFE_PATH)


def service_fqdn(namespace, name, settings):
    return "%s.%s.svc.%s" % (name, namespace, settings.cluster_domain)


def peer_of(cluster_name):
    """The peer party of a cluster named ``<peer>/<cluster>``, None for a cluster of this inventory."""
    if isinstance(cluster_name, str) and PEER_SEPARATOR in cluster_name:
        return cluster_name.split(PEER_SEPARATOR, 1)[0]
    return None


def name_part(cluster_name):
    """A cluster's name as part of an object name (``org-b/cluster2`` -> ``org-b-cluster2``)."""
    return cluster_name.replace(PEER_SEPARATOR, "-")


def grant_host(export_name, exporter, consumer_party):
    """The SNI host (and HTTP authority) under which a consumer of one party reaches an export: one Gateway server
    each, so each server trusts one party's CA only. The exporter's own party keeps ``<export>.<identity>``."""
    if consumer_party == exporter.party:
        return "%s.%s" % (export_name, exporter.identity)
    return "%s.%s.%s" % (export_name, consumer_party, exporter.identity)
