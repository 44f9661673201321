# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The body of a peering bundle, both ways: what this party grants one peer (``bundle_body``), and a peer's body read
into the model (``parse_peers``): its clusters, named <peer>/<cluster>, and the exports it grants to this inventory's
clusters. The envelope around a body (signature, times, CAs checked) is peering/envelope.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.model.checks import (
    check_callers, check_dns_label, check_port, check_unknown_keys, is_dns_name)
from ansible_collections.meshfed.federation.plugins.module_utils.model.inventory import parse_gateway_address
from ansible_collections.meshfed.federation.plugins.module_utils.model.limits import limits_data, parse_quota, parse_state
from ansible_collections.meshfed.federation.plugins.module_utils.model.names import peer_of, PEER_SEPARATOR
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import (
    Cluster, Export, GatewayAddress, Grant, PROTOCOLS, Peer)

# a body: {issuer, recipient, issued_at, expires_at, cas, trust_domain, clusters: [BODY_CLUSTER_FIELDS]}; a cluster's
# exports: [BODY_EXPORT_FIELDS]; an export's consumers: [BODY_CONSUMER_FIELDS]. trust_domain (the issuer's meshes',
# which its callers' SPIFFE IDs carry) and a consumer's callers are newer: a body without them means cluster.local and
# any caller
BODY_CLUSTER_FIELDS = ("name", "identity", "gateway_address", "consumer", "exports")
BODY_EXPORT_FIELDS = ("name", "protocol", "host", "port", "path_prefix", "consumers")
# callers, quota and state only when set (model/limits.py for the last two): a reader ignores the fields it does not
# know (releases before them read these bodies as they did); quota and state are what the exporter enforces, for the
# consumer's status to show
BODY_CONSUMER_FIELDS = ("cluster", "methods", "paths", "callers", "quota", "state")
DEFAULT_TRUST_DOMAIN = "cluster.local"


def parse_peers(problems, raw_peers, settings, clusters):
    # identity -> who holds it: a certificate identity belongs to one party
    claimed = dict((c.identity, "%s in this inventory (meshfed_identity)" % c.name) for c in clusters.values())
    peers = {}
    for raw in raw_peers:
        name, where = raw.get("name"), "peer %s" % raw.get("name")
        if name in peers:
            problems.add(raw.get("where", where), "duplicate peer '%s'" % name)
            continue
        if name == settings.party:
            problems.add(raw.get("where", where), "peer '%s' is this inventory's own party (meshfed_party)" % name)
        if settings.ca_scope != "federation":
            problems.add(raw.get("where", where), "peers need meshfed_ca_scope: federation (the inventory is one "
                         "party, with one CA, that signs its bundles), not %s" % settings.ca_scope)
        body = raw.get("bundle")
        remote = {}
        cas = ()
        if body is not None:
            cas = tuple(body.get("cas") or ())
            if body.get("trust_domain") is not None and not is_dns_name(body.get("trust_domain")):
                problems.add(where, "bundle field body.trust_domain %r is not a lowercase DNS name"
                             % (body.get("trust_domain"),))
            raw_clusters = body.get("clusters")
            if not isinstance(raw_clusters, list):
                problems.add(where, "bundle field body.clusters must be a list")
                raw_clusters = []
            for index, raw_cluster in enumerate(raw_clusters):
                c_where = "%s: bundle field body.clusters[%d]" % (where, index)
                cluster = _parse_remote_cluster(problems, c_where, name, raw_cluster, settings, clusters)
                if cluster is None:
                    continue
                if cluster.name in remote:
                    problems.add(c_where, "duplicate cluster name '%s'" % raw_cluster["name"])
                    continue
                if cluster.identity in claimed:
                    problems.add(c_where, "identity '%s' is also the identity of %s: one certificate identity, two "
                                 "parties" % (cluster.identity, claimed[cluster.identity]))
                claimed.setdefault(cluster.identity, "%s of peer %s" % (raw_cluster["name"], name))
                remote[cluster.name] = cluster
        # once withdrawn, until granted again: the import stays left out, run after run, until the inventory drops it
        withdrawn = sorted((_granted(raw.get("previous"), name, clusters) | set(raw.get("withdrawn") or ()))
                           - _granted(body, name, clusters))
        peers[name] = Peer(name, cas, remote, body, raw.get("signer"), tuple(withdrawn) if body is not None else ())
    return peers


def _granted(body, peer, clusters):
    """``<peer>/<cluster>/<export>`` of each export a bundle body grants to one of ``clusters``."""
    granted = set()
    for cluster in (body or {}).get("clusters") or []:
        for export in (cluster.get("exports") or []) if isinstance(cluster, dict) else []:
            consumers = [c.get("cluster") for c in export.get("consumers") or [] if isinstance(c, dict)]
            if any(c in clusters for c in consumers):
                granted.add(PEER_SEPARATOR.join((peer, str(cluster.get("name")), str(export.get("name")))))
    return granted


def _parse_remote_cluster(problems, where, peer, raw, settings, clusters):
    """One cluster of a peer's bundle, named ``<peer>/<cluster>``, with the exports it grants to our clusters."""
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping")
        return None
    check_unknown_keys(problems, where, raw, BODY_CLUSTER_FIELDS)
    if not check_dns_label(problems, where, "name", raw.get("name")):
        return None
    identity = raw.get("identity")
    if not is_dns_name(identity):
        problems.add(where, "identity %r is not a lowercase DNS name" % (identity,))
    address = raw.get("gateway_address")
    if address is not None:
        address = parse_gateway_address(problems, where + ": gateway_address", address, settings)
    exports = []
    for index, raw_export in enumerate(raw.get("exports") or []):
        export = _parse_remote_export(problems, "%s.exports[%d]" % (where, index), raw_export, clusters)
        if export is not None:
            exports.append(export)
    if exports and not isinstance(address, GatewayAddress):
        problems.add(where, "gateway_address is required with exports: where consumers dial them")
    return Cluster(peer + PEER_SEPARATOR + raw["name"], identity, address, tuple(exports), (), peer,
                   (settings.party,) if raw.get("consumer") else ())


def _parse_remote_export(problems, where, raw, clusters):
    """An export of a peer's cluster as its bundle grants it: to which of our clusters, under which host."""
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping")
        return None
    check_unknown_keys(problems, where, raw, BODY_EXPORT_FIELDS)
    check_dns_label(problems, where, "name", raw.get("name"))
    protocol = raw.get("protocol")
    if protocol not in PROTOCOLS:
        problems.add(where, "protocol %r must be one of %s" % (protocol, ", ".join(PROTOCOLS)))
    host = raw.get("host")
    if not is_dns_name(host):
        problems.add(where, "host %r is not a lowercase DNS name" % (host,))
    if raw.get("port") is not None:
        check_port(problems, where, "port", raw.get("port"))
    grants = []
    for c_index, consumer in enumerate(raw.get("consumers") or []):
        c_where = "%s.consumers[%d]" % (where, c_index)
        name = consumer.get("cluster") if isinstance(consumer, dict) else None
        if not isinstance(name, str):
            problems.add(c_where, "cluster is required")
            continue
        quota = parse_quota(problems, c_where, consumer.get("quota"), protocol)
        state = parse_state(problems, c_where, consumer.get("state"))
        if name in clusters:  # grants to clusters this inventory does not have are not ours to use
            grants.append(Grant(name, clusters[name].identity, host, None, None, clusters[name].party,
                                callers=check_callers(problems, c_where, consumer.get("callers")), quota=quota,
                                state=state))
    return Export(raw.get("name"), None, None, protocol, raw.get("path_prefix"), None,
                  tuple(g.consumer for g in grants), None, tuple(grants))


def bundle_body(federation, recipient, cas, addresses, issued_at, expires_at):
    """What this party grants the peer party ``recipient``: its CA certificates, and each cluster that exports to
    it (with its gateway address and the exports, hosts and consumers granted) or consumes from it (its identity).

    ``addresses``: cluster name -> GatewayAddress of the clusters that export to the recipient; ``issued_at``,
    ``expires_at``: the bundle's validity as it writes it (envelope.validity)."""
    clusters = []
    for cluster in sorted(federation.clusters.values(), key=lambda c: c.name):
        exports = []
        for export in cluster.exports:
            grants = [g for g in export.grants if peer_of(g.consumer) == recipient]
            if not grants:
                continue
            exports.append({
                "name": export.name, "protocol": export.protocol, "host": grants[0].host,
                "port": addresses[cluster.name].port, "path_prefix": export.path_prefix,
                "consumers": [_body_consumer(g) for g in grants]})
        consumer = recipient in cluster.consumes_from
        if not exports and not consumer:
            continue
        address = addresses[cluster.name] if exports else None
        clusters.append({"name": cluster.name, "identity": cluster.identity, "consumer": consumer,
                         "gateway_address": {"address": address.address, "port": address.port} if address else None,
                         "exports": exports})
    return {"issuer": federation.settings.party, "recipient": recipient,
            "issued_at": issued_at, "expires_at": expires_at, "trust_domain": federation.settings.trust_domain,
            "cas": list(cas), "clusters": clusters}


def _body_consumer(grant):
    """One consumer of an export in a body: its name in its own party, the methods, paths and callers granted, its
    quota and state (callers, quota and state only when set: a body without them reads the same in every meshfed
    version)."""
    consumer = {"cluster": grant.consumer.split(PEER_SEPARATOR, 1)[1],
                "methods": list(grant.methods) if grant.methods else None,
                "paths": list(grant.paths) if grant.paths else None}
    if grant.callers:
        consumer["callers"] = list(grant.callers)
    consumer.update(limits_data(grant))
    return consumer


def peer_trust_domain(peer):
    """The trust domain of a peer's meshes, as its bundle says (cluster.local for a body without one)."""
    return (peer.bundle or {}).get("trust_domain") or DEFAULT_TRUST_DOMAIN
