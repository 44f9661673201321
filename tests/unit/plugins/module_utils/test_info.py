# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""federation_info's links (which link goes where, probed or not) and its JMESPath query, without a cluster: the
API client is replaced by one that fails (an unreachable cluster: the links are probed all the same) and the
probes by canned results where the network does not matter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.module_backends import federation_info as info
from ansible_collections.meshfed.federation.plugins.module_utils.observe import probe
from ansible_collections.meshfed.federation.plugins.module_utils.args_common import FEDERATION_INFO_MODULE
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import ClusterError
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.observe.query import QueryError, run_query
from ansible_collections.meshfed.federation.plugins.plugin_utils.in_process import run_in_process
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    seed, settings, three_clusters)

LINK_FIELDS = {"import", "namespace", "peer", "export", "protocol", "sni", "address", "port", "state", "handshake_ms",
               "http_status", "peer_identity", "peer_certificate_days_left", "detail", "probed_at", "down", "quota",
               "drained"}


def test_one_link_per_source_of_each_import_with_the_renderers_address():
    federation = build_model(seed(), settings())
    links = info.link_targets(federation, federation.clusters["cluster1"], {})
    assert [link for link, dummy in links] == [
        {"import": "reviews", "namespace": "default", "peer": "cluster2", "export": "reviews-v2", "protocol": "http",
         "sni": "reviews-v2.c2.example.com", "address": "127.0.0.1", "port": 15443, "quota": None, "drained": False},
        {"import": "details", "namespace": "default", "peer": "cluster2", "export": "details", "protocol": "http",
         "sni": "details.c2.example.com", "address": "127.0.0.1", "port": 15443, "quota": None, "drained": False}]
    assert [target for dummy, target in links] == [
        probe.Target("127.0.0.1", 15443, "reviews-v2.c2.example.com", "c2.example.com", None),
        probe.Target("127.0.0.1", 15443, "details.c2.example.com", "c2.example.com", "/details/0")]
    assert info.link_targets(federation, federation.clusters["cluster2"], {}) == []


def test_a_discovered_peer_uses_the_address_discovery_found_or_says_why_there_is_none():
    clusters = seed()
    del clusters["cluster2"]["gateway_address"]
    federation = build_model(clusters, settings(allow_local_gateway_addresses=False))
    cluster1 = federation.clusters["cluster1"]
    found = info.link_targets(federation, cluster1, {"cluster2": {"address": "172.31.2.100", "port": 15443}})
    assert [(t.address, t.port) for dummy, t in found] == [("172.31.2.100", 15443)] * 2
    unknown = info.link_targets(federation, cluster1, {})
    assert [(link["address"], link["port"]) for link, dummy in unknown] == [(None, None)] * 2
    assert "address of cluster 'cluster2' is unknown" in unknown[0][1]
    local = info.link_targets(federation, cluster1, {"cluster2": {"address": "127.0.0.1", "port": 15443}})
    assert "is a loopback address" in local[0][1]


def refuse_api(cluster, auth):
    raise ClusterError("cluster %s: API server at https://127.0.0.1:1 unreachable: connection refused by the API "
                       "server" % cluster)


def module_args(clusters, **extra):
    args = {"federation": {"clusters": clusters, "settings": settings()}, "cluster": "cluster1",
            "context": "cluster1"}
    args.update(extra)
    return args


def run_info(monkeypatch, args, probed=None):
    monkeypatch.setattr(info, "ClusterClient", refuse_api)
    if probed is not None:
        monkeypatch.setattr(info, "client_context", lambda *paths: "context")
        monkeypatch.setattr(info, "probe_links", lambda targets, *rest: [dict(probed[t.sni]) for t in targets])
    return run_in_process(FEDERATION_INFO_MODULE, info.run_federation_info, args, check_mode=False, diff=False)


def canned(state, **fields):
    result = {"state": state, "handshake_ms": 1.5 if state != "unreachable" else None, "http_status": None,
              "peer_identity": "c2.example.com", "peer_certificate_days_left": 300, "detail": state,
              "probed_at": "2026-12-01T10:00:00Z"}
    result.update(fields)
    return result


CREDENTIAL = {"cert_path": "/pki/cluster1.crt", "key_path": "/pki/cluster1.key", "ca_path": "/pki/ca.crt"}


def test_probed_links_are_reported_and_counted_even_when_the_cluster_api_is_unreachable(monkeypatch):
    result = run_info(monkeypatch, module_args(seed(), probe=True, credential=CREDENTIAL), probed={
        "reviews-v2.c2.example.com": canned("peer_certificate_expiring", peer_certificate_days_left=3),
        "details.c2.example.com": canned("http_error", http_status=503)})
    cluster = result["cluster"]
    assert not cluster["reachable"] and "connection refused by the API server" in cluster["error"]
    assert [set(link) for link in cluster["links"]] == [LINK_FIELDS] * 2
    assert [(link["export"], link["state"], link["http_status"]) for link in cluster["links"]] == [
        ("reviews-v2", "peer_certificate_expiring", None), ("details", "http_error", 503)]
    assert cluster["links_down"] == 1  # expiring still carries traffic
    assert sum(link["down"] for link in cluster["links"]) == cluster["links_down"]
    assert "query_result" not in result


def test_a_drained_link_is_reported_drained_not_down_and_not_probed(monkeypatch):
    clusters = seed()
    clusters["cluster2"]["exports"][1]["consumers"] = [{"cluster": "cluster1", "state": "drained"}]
    clusters["cluster2"]["exports"][0]["consumers"] = [{"cluster": "cluster1", "quota": {"requests_per_second": 5}}]
    result = run_info(monkeypatch, module_args(clusters, probe=True, credential=CREDENTIAL), probed={
        "reviews-v2.c2.example.com": canned("ok")})
    links = result["cluster"]["links"]
    assert [set(link) for link in links] == [LINK_FIELDS] * 2
    assert [(link["export"], link["state"], link["down"], link["drained"], link["quota"]) for link in links] == [
        ("reviews-v2", "ok", False, False, {"requests_per_second": 5}), ("details", "drained", False, True, None)]
    assert "cluster2 drained this grant" in links[1]["detail"] and links[1]["handshake_ms"] is None
    assert result["cluster"]["links_down"] == 0


def test_without_probe_there_are_no_links_and_no_credential_is_needed(monkeypatch):
    result = run_info(monkeypatch, module_args(seed()))
    assert "links" not in result["cluster"] and "links_down" not in result["cluster"]


def test_probe_needs_a_credential_it_can_read(monkeypatch, tmp_path):
    result = run_info(monkeypatch, module_args(seed(), probe=True))
    assert result["failed"] and "probe is True" in result["msg"] and "credential" in result["msg"]
    missing = dict(CREDENTIAL, cert_path=str(tmp_path / "cluster1.crt"))
    result = run_info(monkeypatch, module_args(seed(), probe=True, credential=missing))
    assert result["failed"] and result["msg"].startswith("cluster cluster1: cannot probe its links with the credential")
    result = run_info(monkeypatch, module_args(seed(), probe=True, credential=CREDENTIAL, probe_timeout=0))
    assert result["failed"] and "probe_timeout must be a positive number" in result["msg"]


def test_an_unknown_peer_address_is_an_unreachable_link_without_a_probe(monkeypatch):
    clusters = seed()
    del clusters["cluster2"]["gateway_address"]
    result = run_info(monkeypatch, module_args(clusters, probe=True, credential=CREDENTIAL), probed={})
    links = result["cluster"]["links"]
    assert [(link["state"], link["address"], link["handshake_ms"]) for link in links] == [("unreachable", None, None)] * 2
    assert "is unknown" in links[0]["detail"] and links[0]["probed_at"].endswith("Z")
    assert result["cluster"]["links_down"] == 2


def test_a_real_probe_of_a_closed_port_is_unreachable(monkeypatch, tmp_path):
    from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_probe import Credentials
    creds = Credentials(tmp_path)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    clusters = seed()
    clusters["cluster2"]["gateway_address"] = {"address": "127.0.0.1", "port": port}
    credential = {"cert_path": creds.path("ca-c1.crt"), "key_path": creds.path("ca-c1.key"),
                  "ca_path": creds.path("ca.crt")}
    result = run_info(monkeypatch, module_args(clusters, probe=True, credential=credential, probe_timeout=1.0,
                                               query="links[?state!='ok'].[import, state]"))
    assert result["query_result"] == [["reviews", "unreachable"], ["details", "unreachable"]]
    assert result["cluster"]["links"][0]["port"] == port


QUERIES = [
    ("links[?state!='ok']", []),
    ("links[?handshake_ms > `50`].[import, peer, handshake_ms]", [["details", "cluster2", 80.5]]),
    ("links[?http_status].{import: import, status: http_status}", [{"import": "details", "status": 200}]),
    ("length(links[?state=='ok'])", 2),
    ("certificate.days_left", None),
    # the README's
    ("links[?state!='ok'].[import, peer, export, state, detail]", []),
    ("links[?peer_certificate_days_left < `30`].{peer: peer, days: peer_certificate_days_left}",
     [{"peer": "cluster2", "days": 20}]),
    ("{cert_days: certificate.days_left, down: links_down}", {"cert_days": None, "down": 0}),
]


@pytest.mark.parametrize("query, expected", QUERIES)
def test_documented_queries_select_what_they_say(monkeypatch, query, expected):
    result = run_info(monkeypatch, module_args(seed(), probe=True, credential=CREDENTIAL, query=query), probed={
        "reviews-v2.c2.example.com": canned("ok", handshake_ms=2.0),
        "details.c2.example.com": canned("ok", handshake_ms=80.5, http_status=200, peer_certificate_days_left=20)})
    assert result["query_result"] == expected
    assert len(result["cluster"]["links"]) == 2  # the whole result comes with it


def test_a_bad_query_fails_with_jmespaths_reason(monkeypatch):
    result = run_info(monkeypatch, module_args(seed(), query="links[?state=="))
    assert result["failed"] and result["msg"].startswith("query 'links[?state==' is not a valid JMESPath expression")
    assert result["cluster"]["name"] == "cluster1"
    with pytest.raises(QueryError, match="failed on the result"):
        run_query("length(name)", {"name": 5})


def test_a_missing_jmespath_library_is_reported_only_when_a_query_is_given(monkeypatch):
    monkeypatch.setattr(info, "HAS_JMESPATH", False)
    result = run_info(monkeypatch, module_args(seed(), query="links"))
    assert result["failed"] and "jmespath" in result["msg"]
    assert not run_info(monkeypatch, module_args(seed())).get("failed")


def test_the_three_cluster_scenario_has_a_tcp_link_probed_by_handshake():
    federation = build_model(three_clusters(), settings())
    links = info.link_targets(federation, federation.clusters["cluster2"], {})
    assert [(link["export"], link["protocol"], target.probe_path) for link, target in links] == [
        ("postgres", "tcp", None)]
