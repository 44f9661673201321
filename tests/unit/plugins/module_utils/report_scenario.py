# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What status.yml collects for a three-cluster federation (one federation_info ``cluster`` dict per cluster),
shared by the report's unit tests and its browser test.

cluster1 consumes ``reviews`` from cluster2 (50%, against its local v1) and ``ratings`` from cluster3; cluster3
consumes ``details`` from cluster2. The probe found the reviews link ok and the ratings link refused; cluster3's
links were not probed (no ``links``). Certificates: 300, 45 and 12 days left."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

PROBED_AT = "2025-06-01T10:15:02+00:00"


def _gateway(address=None):
    gateway = {"deployed": True, "ready": True, "replicas": 1, "available_replicas": 1}
    if address is not None:
        gateway["address"] = address
    return gateway


def _certificate(identity, not_after, days_left, serial):
    return {"subject": "CN=%s" % identity, "issuer": "CN=meshfed root CA", "serial": serial,
            "not_after": not_after, "days_left": days_left}


CLUSTERS = [
    {
        "name": "cluster1", "identity": "c1.example.com", "reachable": True,
        "ingress_gateway": _gateway(None), "egress_gateway": _gateway(),
        "certificate": _certificate("c1.example.com", "2026-03-28T10:00:00+00:00", 300, "1a2b"),
        "exports": [],
        "imports": [
            {"name": "reviews", "namespace": "default", "port": 9080, "protocol": "http",
             "sources": [{"cluster": "cluster2", "export": "reviews-v2", "weight": 50}], "local_weight": 50,
             "applied": True},
            {"name": "ratings", "namespace": "default", "port": 9080, "protocol": "http",
             "sources": [{"cluster": "cluster3", "export": "ratings", "weight": 100}], "local_weight": None,
             "applied": True},
        ],
        "links": [
            {"import": "reviews", "namespace": "default", "peer": "cluster2", "export": "reviews-v2",
             "protocol": "http", "sni": "reviews-v2.c2.example.com", "address": "192.0.2.20", "port": 15443,
             "state": "ok", "handshake_ms": 4.2, "http_status": 200, "peer_identity": "c2.example.com",
             "peer_certificate_days_left": 45, "detail": "", "probed_at": PROBED_AT},
            {"import": "ratings", "namespace": "default", "peer": "cluster3", "export": "ratings",
             "protocol": "http", "sni": "ratings.c3.example.com", "address": "192.0.2.30", "port": 15443,
             "state": "refused", "handshake_ms": None, "http_status": None, "peer_identity": None,
             "peer_certificate_days_left": None,
             "detail": "the peer refused the handshake: alert certificate unknown (is cluster1 a consumer?)",
             "probed_at": PROBED_AT},
        ],
        "links_down": 1,
    },
    {
        "name": "cluster2", "identity": "c2.example.com", "reachable": True,
        "ingress_gateway": _gateway({"address": "192.0.2.20", "port": 15443}), "egress_gateway": _gateway(),
        "certificate": _certificate("c2.example.com", "2025-07-16T10:00:00+00:00", 45, "3c4d"),
        "exports": [
            {"name": "reviews-v2", "protocol": "http", "service": "bookinfo/myreviews:9080", "subset": "v2",
             "consumers": ["cluster1"], "applied": True},
            {"name": "details", "protocol": "http", "service": "bookinfo/details:9080", "subset": None,
             "consumers": ["cluster3"], "applied": True},
        ],
        "imports": [],
        "links": [],
        "links_down": 0,
    },
    {
        "name": "cluster3", "identity": "c3.example.com", "reachable": True,
        "ingress_gateway": _gateway({"address": "192.0.2.30", "port": 15443}), "egress_gateway": _gateway(),
        "certificate": _certificate("c3.example.com", "2025-06-13T10:00:00+00:00", 12, "5e6f"),
        "exports": [
            {"name": "ratings", "protocol": "http", "service": "bookinfo/ratings:9080", "subset": None,
             "consumers": ["cluster1"], "applied": True},
        ],
        "imports": [
            {"name": "details", "namespace": "shop", "port": 9080, "protocol": "http",
             "sources": [{"cluster": "cluster2", "export": "details", "weight": 100}], "local_weight": None,
             "applied": True},
        ],
    },
]

# exporter -> consumer, the local name and weight it is labelled with, the kind of its colour
EDGES = [("cluster2", "cluster1", "reviews (50%)", "ok"),
         ("cluster3", "cluster1", "ratings (100%)", "down"),
         ("cluster2", "cluster3", "details (100%)", "not-probed")]
DAYS_LEFT = {"cluster1": 300, "cluster2": 45, "cluster3": 12}


def clusters():
    return copy.deepcopy(CLUSTERS)
