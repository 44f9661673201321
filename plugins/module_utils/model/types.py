# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model's types (namedtuples), the error that carries every problem found, and the words a description may use."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

PROTOCOLS = ("http", "tcp", "tls")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
CERT_DELIVERIES = ("sds", "file")
# federation: one CA for the inventory, one party; cluster: a CA per cluster, each cluster a party of its own
CA_SCOPES = ("federation", "cluster")
ISTIO_API_VERSIONS = ("networking.istio.io/v1", "networking.istio.io/v1beta1")
DISCOVER = "discover"
SERVICE_TYPES = ("LoadBalancer", "NodePort", "ClusterIP")
EXTERNAL_TRAFFIC_POLICIES = ("Cluster", "Local")
# annotation keys of meshfed's own (meshfed.io/spec-hash): not the user's to set
RESERVED_ANNOTATION_PREFIX = "meshfed.io/"
# TCP keepalive of a connection: idle seconds before the first probe, seconds between probes, probes unanswered
# before the connection is dropped (what Envoy's upstream_connection_options.tcp_keepalive takes: whole seconds)
TcpKeepalive = namedtuple("TcpKeepalive", "time interval probes")
ServiceRef = namedtuple("ServiceRef", "namespace name port")
Subset = namedtuple("Subset", "name labels")
GatewayAddress = namedtuple("GatewayAddress", "address port")
# a consumer's quota on one export, enforced per replica of the exporter's ingress gateway: requests a second (http)
# or connections open at once (tcp, tls); the other field None
Quota = namedtuple("Quota", "requests_per_second connections")
# a grant's state: active, or drained (new requests 403, new connections refused; the grant itself stays)
GRANT_STATES = ("active", "drained")
DRAINED = "drained"
# what one consumer may use of an export: the SNI host it dials (one per consumer party), the identity its
# certificate carries (None while its party's peering bundle is not there), optional HTTP methods and paths, the
# callers of the consumer's mesh it may send (http: "<namespace>/<serviceaccount>" or "<namespace>/*"; None: any),
# its quota (None: no limit) and state (GRANT_STATES)
Grant = namedtuple("Grant", "consumer identity host methods paths party callers quota state")
Grant.__new__.__defaults__ = (None, None, "active")
Export = namedtuple("Export", "name service subset protocol path_prefix rewrite_prefix consumers probe_path grants")
RemoteSource = namedtuple("RemoteSource", "cluster export weight")
LocalSource = namedtuple("LocalSource", "subset weight")
Retries = namedtuple("Retries", "attempts per_try_timeout retry_on")
# how an import's destinations (its local copy, its sources) share the traffic: split by fixed weights (Istio picks
# one per request and keeps to it); weighted, the same weights while every destination is healthy, a failing one's
# share moving to the others; failover, the first healthy destination of ``order`` takes it all
IMPORT_MODES = ("split", "weighted", "failover")
SPLIT = "split"
FAILOVER = "failover"
# the local copy in an import's failover order
LOCAL = "local"
# when a weighted or failover import takes a destination out (Istio's outlierDetection): consecutive 5xx answers,
# consecutive gateway errors (502, 503, 504, connect failures), consecutive local-origin failures (tcp, tls: a
# connect failure; None counts them as gateway errors), how often Envoy looks, for how long the first ejection
# lasts (longer each time), how much of a destination may be out at once
OutlierDetection = namedtuple("OutlierDetection", "consecutive_5xx_errors consecutive_gateway_errors "
                              "consecutive_local_origin_failures interval base_ejection_time max_ejection_percent")
OUTLIER_DETECTION_DEFAULTS = OutlierDetection(5, 2, None, "1s", "10s", 100)
# mode: IMPORT_MODES; order: the destinations in failover order (LOCAL or a source's cluster), failover only;
# outlier_detection: weighted and failover only
Import = namedtuple("Import", "name namespace port protocol sources local timeout retries mode order outlier_detection")
Import.__new__.__defaults__ = (SPLIT, None, None)
# What a cluster tells of itself that a weighted or failover import needs: its egress gateway Service's ClusterIP and,
# per import with a local copy ((namespace, name) -> LocalCopy), the local Service's pod selector and the port its
# pods listen on for the import's port (observe/local_copies.py reads them)
BalanceInputs = namedtuple("BalanceInputs", "egress_address local_copies")
LocalCopy = namedtuple("LocalCopy", "selector target_port")
# party: the organization whose CA signs the cluster's certificate; consumes_from: the peer parties it imports from
Cluster = namedtuple("Cluster", "name identity gateway_address exports imports party consumes_from")
# a peer party: its CA certificates, its clusters (named <peer>/<cluster>) as its peering bundle describes them, the
# bundle's body and signer fingerprint; bundle None while the peer has not handed one yet (pending); withdrawn: the
# "<peer>/<cluster>/<export>" its bundle last applied granted and this one no longer does
Peer = namedtuple("Peer", "name cas clusters bundle signer withdrawn")
# peers: name -> Peer; skipped: what waits for a pending peer's bundle, one sentence each
Federation = namedtuple("Federation", "settings clusters peers skipped")


class FederationModelError(Exception):
    """Every validation problem of an inventory, reported together."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(FederationModelError, self).__init__(
            "invalid federation inventory (%d problem%s):\n- %s"
            % (len(self.errors), "" if len(self.errors) == 1 else "s", "\n- ".join(self.errors))
        )


class Problems(object):
    """Collects errors under a location prefix such as ``cluster2: meshfed_exports[0] (reviews-v2)``."""

    def __init__(self):
        self.errors = []

    def add(self, where, message):
        self.errors.append("%s: %s" % (where, message))
