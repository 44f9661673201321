# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every name meshfed derives from the model: the names of the objects it writes, hosts, principals, a cluster's name
as part of another. Kubernetes object names users rely on (meshfed-peer-<cluster>, say) are built here only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

# a cluster of a peer party is named <peer>/<cluster> in this inventory: the peer's name, then its own name for it
PEER_SEPARATOR = "/"
GATEWAY_SPIFFE_PATH = "meshfed-gateway"
# the two directions of a private gateway
INGRESS = "ingress"
EGRESS = "egress"
CROSS_CLUSTER_PORT_NAME = "https-for-cross-cluster-communication"
IN_MESH_PORT_NAME = "tls-in-mesh"
# istiod reads the CA of credential <name> from Secret <name>-cacert when there is one (a CA-only Secret)
CA_SECRET_SUFFIX = "-cacert"
EGRESS_RULE_NAME = "meshfed-egress-gateway"


def short_name(*parts, **kwargs):
    """Join parts with '-'; above ``limit`` characters keep a prefix and add a stable hash."""
    limit = kwargs.get("limit", 63)
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return name[: limit - 11].rstrip("-") + "-" + digest


def peer_of(cluster_name):
    """The peer party of a cluster named ``<peer>/<cluster>``, None for a cluster of this inventory."""
    if isinstance(cluster_name, str) and PEER_SEPARATOR in cluster_name:
        return cluster_name.split(PEER_SEPARATOR, 1)[0]
    return None


def name_part(cluster_name):
    """A cluster's name as part of an object name (``org-b/cluster2`` -> ``org-b-cluster2``)."""
    return cluster_name.replace(PEER_SEPARATOR, "-")


def service_fqdn(namespace, name, settings):
    return "%s.%s.svc.%s" % (name, namespace, settings.cluster_domain)


def gateway_principal(identity):
    """What a gateway certificate's URI SAN carries after ``spiffe://`` (Envoy's RBAC principal for it, which an
    AuthorizationPolicy's ``source.principals`` matches)."""
    return "%s/%s" % (identity, GATEWAY_SPIFFE_PATH)


def grant_host(export_name, exporter, consumer_party):
    """The SNI host (and HTTP authority) under which a consumer of one party reaches an export: one Gateway server
    each, so each server trusts one party's CA only. The exporter's own party keeps ``<export>.<identity>``."""
    if consumer_party == exporter.party:
        return "%s.%s" % (export_name, exporter.identity)
    return "%s.%s.%s" % (export_name, consumer_party, exporter.identity)


def gateway_name(direction):
    return "istio-private-%sgateway" % direction


def gateway_service_fqdn(direction, settings):
    return service_fqdn(settings.gateway_namespace, gateway_name(direction), settings)


def credential_secret_name(cluster, party=None):
    """The TLS Secret holding the cluster's gateway certificate and key with the CA it trusts: its own party's
    (the blog's c1-example-com-certs), or one peer party's (c1-example-com-<party>-certs): a server or an
    origination trusts one party's CA only. Never a name ending in -cacert, which istiod would take for the CA of
    another credential."""
    if party is None or party == cluster.party:
        return "%s-certs" % cluster.identity.replace(".", "-")
    return "%s-%s-certs" % (cluster.identity.replace(".", "-"), party)


def ca_secret_name(cluster, party):
    """The Secret holding one peer party's CA alone, for a server's caCertCredentialName: the name istiod itself
    looks up first for the CA of that party's credential Secret (<credential>-cacert), so both always agree."""
    return credential_secret_name(cluster, party) + CA_SECRET_SUFFIX


def export_object_name(export):
    return short_name("meshfed-export", export.name, limit=253)


def export_deny_name(export):
    # "meshfed-deny-export-": no export's own objects (meshfed-export-<name>) nor a binding's can take this name
    return short_name("meshfed-deny-export", export.name, limit=253)


def export_quota_name(export):
    # "meshfed-quota-export-": no export's own objects (meshfed-export-<name>) nor a binding's can take this name
    return short_name("meshfed-quota-export", export.name, limit=253)


def quota_stat_prefix(export):
    """The stat prefix of an export's quota filters in the ingress gateway's Envoy statistics."""
    return "meshfed_quota_" + export.name.replace("-", "_")


def local_rule_name(namespace, name):
    """The DestinationRule of the subsets and traffic policy of one exported Service (namespace, name)."""
    return short_name("meshfed-local", namespace, name, limit=253)


def binding_id(imported, source):
    """Name of one (local name, peer, export) binding; unique per consumer namespace."""
    return short_name(imported.name, name_part(source.cluster), source.export)


def binding_object_name(imported, source):
    return short_name("meshfed-import", imported.namespace, binding_id(imported, source), limit=253)


def binding_deny_name(imported, source):
    # "meshfed-deny-binding-": no binding's own objects (meshfed-import-...) nor an export's can take this name
    return short_name("meshfed-deny-binding", imported.namespace, binding_id(imported, source), limit=253)


def binding_subset(imported, source):
    """Subset of the egress gateway's DestinationRule that carries one binding (unique per cluster)."""
    return short_name(imported.namespace, binding_id(imported, source))


def binding_host(imported, source, settings):
    """SNI of the in-mesh hop to the egress gateway; it selects the binding's egress Gateway server."""
    return service_fqdn(imported.namespace, binding_id(imported, source), settings)


# A weighted or failover import's destinations are endpoints of one Envoy cluster per destination that takes traffic
# first (render/balance.py): its host is never resolved, only the import's VirtualService and DestinationRule name it.
BALANCE_DOMAIN = "meshfed.internal"
# the egress gateway's ports for the sources of weighted and failover imports, one per (import, source): a sidecar can
# tell the egress which source it means by the port alone (an endpoint of a cluster has no SNI or authority of its own)
LEG_PORTS = range(15500, 15600)
# labels of the egress gateway's endpoints in a balanced import's cluster; failoverPriority compares them
LEG_LABEL_PREFIX = "leg.meshfed.io/"
SOURCE_LEG_LABEL = "meshfed.io/source-leg"


def host_part(name):
    """A destination's name (local, a cluster of this inventory or <peer>/<cluster>) as one DNS label."""
    return short_name(name_part(name).replace(".", "-").lower())


def balance_host(imported, first):
    """The host of the cluster whose traffic goes first to the destination ``first``."""
    return "%s.%s.%s.%s" % (host_part(first), imported.name, imported.namespace, BALANCE_DOMAIN)


def balance_object_name(imported, part):
    """The ServiceEntries (part local or sources) and DestinationRules (part: a destination's) of a balanced
    import, in its namespace."""
    return short_name("meshfed-balance", imported.name, host_part(part), limit=253)


def leg_label(name):
    """The label an egress endpoint of a balanced import carries for its source (a label key's name part is 63
    characters at most)."""
    return LEG_LABEL_PREFIX + host_part(name)


def leg_object_name(imported, source):
    return short_name("meshfed-leg", imported.namespace, binding_id(imported, source), limit=253)


def leg_deny_name(imported, source):
    # "meshfed-deny-leg-": no leg's own objects (meshfed-leg-...) nor a binding's or an export's can take this name
    return short_name("meshfed-deny-leg", imported.namespace, binding_id(imported, source), limit=253)


def leg_port_name(port):
    """The egress gateway's Service and container port of one leg (a container port name is 15 characters at
    most)."""
    return "tls-leg-%d" % port


def import_port_name(imported):
    """The name of an import's port, on the Service of its name and on the ServiceEntries of its destinations."""
    return ("%s-%s" % (imported.protocol, imported.name))[:63]


def source_object_name(cluster_name):
    """The ServiceEntry and DestinationRule of one cluster imported from: meshfed-peer-<cluster>, a name users rely on
    (from before "peer" came to mean another party), kept as it is."""
    return short_name("meshfed-peer", name_part(cluster_name), limit=253)


# The headers meshfed sets on an http request that crosses to another cluster (docs/design.md, "Who called: the
# caller's identity across the boundary"): the consumer's egress gateway sets the caller, from the verified
# certificate of the calling sidecar; the exporter's ingress gateway sets the consumer, from the consumer's verified
# certificate, and the SNI it came in on. Each is set (overwritten), never appended to what a client sent.
CALLER_HEADER = "x-meshfed-caller"
CONSUMER_HEADER = "x-meshfed-consumer"
CONSUMER_HOST_HEADER = "x-meshfed-consumer-sni"
# what the consumer's egress removes before the request leaves the cluster: the caller's addresses and certificate
EGRESS_REMOVED_HEADERS = ("x-forwarded-for", "x-forwarded-client-cert", "x-envoy-external-address")
ANY_SERVICE_ACCOUNT = "*"


def caller_principal(trust_domain, caller):
    """The value of the caller header an AuthorizationPolicy matches for one granted caller: ``<ns>/<sa>`` is the
    workload's SPIFFE ID in the consumer's mesh, ``<ns>/*`` every service account of that namespace (Istio turns a
    trailing ``*`` into a prefix match)."""
    namespace, service_account = caller.split("/", 1)
    return "spiffe://%s/ns/%s/sa/%s" % (trust_domain, namespace, service_account)


PROBE_SERVICE_ACCOUNT = "meshfed-link-probe"


def probe_caller(trust_domain, callers):
    """The caller a link probe of the consumer's controller claims for a grant that names callers (None for one
    that does not): the first granted caller, ``<ns>/*`` as the service account meshfed-link-probe of that
    namespace. The controller holds the consumer gateway's key: it could claim any caller of the grant."""
    if not callers:
        return None
    namespace, service_account = callers[0].split("/", 1)
    if service_account == ANY_SERVICE_ACCOUNT:
        service_account = PROBE_SERVICE_ACCOUNT
    return caller_principal(trust_domain, "%s/%s" % (namespace, service_account))


def caller_namespace(caller):
    return caller.split("/", 1)[0]
