# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The consumer's egress gateway as the hop to an exporter: the route that forwards one source of an import, and the
policies that let only the importing namespace use it. A binding (render/service_import.py) selects it by SNI, a
leg of a weighted or failover import (render/balance.py) by port."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import kind_api_version
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    CALLER_HEADER, EGRESS, EGRESS_REMOVED_HEADERS)
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import cluster_of, find_export, grant_for
from ansible_collections.meshfed.federation.plugins.module_utils.render import istio
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import gateway_workload_selector

# Envoy expands %DOWNSTREAM_PEER_URI_SAN% on the egress gateway: the URI SAN of the certificate the calling sidecar
# presented (Istio mutual TLS), i.e. the workload's SPIFFE ID; Istio's "set" overwrites a value the client sent
CALLER_HEADERS = {CALLER_HEADER: "%DOWNSTREAM_PEER_URI_SAN%"}


def forward(federation, cluster, imported, source, address, name, labels, host, port):
    """The egress VirtualService ``name`` (bound to the Gateway of that name, for ``host``) that forwards one source
    of an import to its exporter's ingress gateway at ``address``, subset of the export. tcp and tls: a tcp route on
    ``port``. http: an HTTP route that rewrites the authority to the grant host, sets the caller header from the
    calling sidecar's verified certificate (its URI SAN, the workload's SPIFFE ID: a value the client sent is
    replaced) and removes the headers that would tell the exporter the caller's addresses or certificate."""
    settings = federation.settings
    exporter = cluster_of(federation, source.cluster)
    target = istio.destination(exporter.identity, address.port, source.export)
    if imported.protocol == "http":
        export = find_export(federation, source.cluster, source.export)
        routes = {"http": [{"name": name, "rewrite": {"authority": grant_for(export, cluster.name).host},
                            "headers": {"request": {"set": dict(CALLER_HEADERS),
                                                    "remove": list(EGRESS_REMOVED_HEADERS)}},
                            "route": [{"destination": target}]}]}
    else:
        routes = {"tcp": [{"match": [{"port": port}], "route": [{"destination": target}]}]}
    return istio.virtual_service(settings.istio_api_version, name, settings.gateway_namespace, labels, [host],
                                 gateways=[name], export_to=["."], **routes)


def policies(settings, imported, labels, deny_name, allow_name, condition):
    """Only the importing namespace may use one source of an import on the egress gateway: a DENY and an ALLOW
    policy, both on ``condition`` (the binding's SNI or the leg's port), the DENY for connections from any other
    namespace, the ALLOW for that namespace's workloads (their Istio mTLS identity).

    On a TLS server with a tcp route Istio enforces these as the RBAC network filter, on an HTTPS server with an
    HTTP route as the HTTP RBAC filter (403); ``connection.sni``, ``destination.port`` and the source namespace are
    conditions of both. ALLOW policies add up: once one selects the gateway, a connection no policy allows is
    refused; but an ALLOW of someone else's that selects the gateway too (a mesh-wide ``rules: [{}]`` in the root
    namespace, say) would let every namespace use the source, which the DENY, evaluated before any ALLOW, does
    not."""
    api_version = kind_api_version("AuthorizationPolicy", settings.istio_api_version)
    selector = gateway_workload_selector(EGRESS, settings)
    return [
        istio.authorization_policy(api_version, deny_name, settings.gateway_namespace, labels, selector,
                                   [{"from": [{"source": {"notNamespaces": [imported.namespace]}}],
                                     "when": condition}], action="DENY"),
        istio.authorization_policy(api_version, allow_name, settings.gateway_namespace, labels, selector,
                                   [{"from": [{"source": {"namespaces": [imported.namespace]}}], "when": condition}]),
    ]
