# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Quotas and drains of an export's consumers, enforced on the exporter's ingress gateway (docs/design.md, "Quotas and
drains").

* A drained grant is a DENY rule (its consumer's principal on its server's SNI) in the export's DENY policy: 403 for
  http, the connection closed for tcp and tls; the grant, its server and its ALLOW rule stay.
* Quotas are one EnvoyFilter per export, one patch per server (consumer party) with quotas, matched by the server's
  SNI on the ingress port: for http Envoy's local rate limit filter before the router (after Istio's RBAC filters,
  so a refused request takes no token), one token bucket per consumer cluster, found by the client certificate's
  URI in the ``x-forwarded-client-cert`` header the gateway itself writes (Istio's gateways sanitize and set it);
  for tcp and tls Envoy's connection limit filter first in the chain (a server's consumers share it, and the model
  requires them to carry one limit). Every bucket and counter is per gateway replica.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import kind_api_version
from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import owned_labels
from ansible_collections.meshfed.federation.plugins.module_utils.model.limits import QUOTA_MAX, is_drained
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import (
    export_quota_name, gateway_principal, INGRESS, quota_stat_prefix)
from ansible_collections.meshfed.federation.plugins.module_utils.model.queries import known_grants
from ansible_collections.meshfed.federation.plugins.module_utils.render import istio
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import gateway_workload_selector

LOCAL_RATE_LIMIT = "envoy.filters.http.local_ratelimit"
LOCAL_RATE_LIMIT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"
CONNECTION_LIMIT = "envoy.filters.network.connection_limit"
CONNECTION_LIMIT_TYPE = "type.googleapis.com/envoy.extensions.filters.network.connection_limit.v3.ConnectionLimit"
ROUTER = "envoy.filters.http.router"
CONSUMER_DESCRIPTOR = "meshfed-consumer"
CLIENT_CERT_HEADER = "x-forwarded-client-cert"
# seconds until a bucket refills: the fill interval, which a 429 tells the client in retry-after
FILL_SECONDS = 1
# An XFCC element is key=value pairs separated by ';', a value quoted when it may hold ';' or ',' (Subject, Cert):
# the URI pair must start a pair outside quotes, so a certificate's Subject cannot carry another consumer's URI.
XFCC_URI_REGEX = r'^(([^";]|"([^"\\]|\\.)*")*;)*URI=%s(;.*)?$'


def drain_rules(export):
    """DENY rules of the export's drained grants: each consumer's principal on its server's SNI."""
    return [{"from": [{"source": {"principals": [gateway_principal(grant.identity)]}}],
             "when": [{"key": "connection.sni", "values": [grant.host]}]}
            for grant in known_grants(export) if is_drained(grant)]


def client_uri_regex(identity):
    """A regex matching the ``x-forwarded-client-cert`` value of a client certificate whose URI SAN is the
    gateway principal of ``identity`` (a lowercase DNS name: only '.' needs escaping)."""
    return XFCC_URI_REGEX % ("spiffe://" + gateway_principal(identity)).replace(".", r"\.")


def token_bucket(per_second):
    return {"max_tokens": per_second, "tokens_per_fill": per_second, "fill_interval": "%ds" % FILL_SECONDS}


def rate_limit_filter(export, grants):
    """Envoy's local rate limit filter of one server: a bucket per consumer of ``grants`` (those with a quota);
    requests of the server's other consumers match no descriptor and take from a bucket that never runs out."""
    return {"name": LOCAL_RATE_LIMIT, "typed_config": {
        "@type": LOCAL_RATE_LIMIT_TYPE,
        "stat_prefix": quota_stat_prefix(export),
        "token_bucket": token_bucket(QUOTA_MAX),
        "always_consume_default_token_bucket": False,
        "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
        "filter_enforced": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
        "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
        "response_headers_to_add": [{"header": {"key": "retry-after", "value": str(FILL_SECONDS)},
                                     "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
        "rate_limits": [consumer_rate_limit(grant) for grant in grants],
        "descriptors": [{"entries": [{"key": CONSUMER_DESCRIPTOR, "value": grant.consumer}],
                         "token_bucket": token_bucket(grant.quota.requests_per_second)} for grant in grants]}}


def consumer_rate_limit(grant):
    """The rate limit action that gives a request of the grant's consumer its descriptor."""
    match = {"descriptor_key": CONSUMER_DESCRIPTOR, "descriptor_value": grant.consumer,
             "headers": [{"name": CLIENT_CERT_HEADER,
                          "string_match": {"safe_regex": {"regex": client_uri_regex(grant.identity)}}}]}
    return {"actions": [{"header_value_match": match}]}


def connection_limit_filter(export, limit):
    return {"name": CONNECTION_LIMIT, "typed_config": {
        "@type": CONNECTION_LIMIT_TYPE, "stat_prefix": quota_stat_prefix(export), "max_connections": limit}}


def quota_patches(export, port):
    """One config patch per server of the export whose consumers have quotas, in the order of its hosts."""
    by_host = {}
    for grant in known_grants(export):
        if grant.quota is not None:
            by_host.setdefault(grant.host, []).append(grant)
    patches = []
    for host, grants in sorted(by_host.items()):
        if export.protocol == "http":
            patches.append(istio.gateway_chain_patch("HTTP_FILTER", port, host, "INSERT_BEFORE",
                                                     rate_limit_filter(export, grants), sub_filter=ROUTER))
        else:
            patches.append(istio.gateway_chain_patch("NETWORK_FILTER", port, host, "INSERT_FIRST",
                                                     connection_limit_filter(export, grants[0].quota.connections)))
    return patches


def render_export_quota(federation, export):
    """The EnvoyFilter of the export's quotas on the ingress gateway, None when no consumer has one."""
    settings = federation.settings
    patches = quota_patches(export, settings.ingress_port)
    if not patches:
        return None
    return istio.envoy_filter(kind_api_version("EnvoyFilter", settings.istio_api_version), export_quota_name(export),
                              settings.gateway_namespace,
                              owned_labels(settings.federation_name, "export", export=export.name),
                              gateway_workload_selector(INGRESS, settings), patches)
