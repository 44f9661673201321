# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 23's two halves together: a consumer's grant with callers, a quota and a state at once (test_callers.py and
test_quotas.py hold each half alone): the model, the exporter's policies and quota filter beside the consumer's HTTP
hop, the link probe of a drained grant, the peering bundle and its changes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.model.data import model_data, model_from_data
from ansible_collections.meshfed.federation.plugins.module_utils.model.types import Quota
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.federation_info import link_targets
from ansible_collections.meshfed.federation.plugins.module_utils.observe.probe import Target
from ansible_collections.meshfed.federation.plugins.module_utils.peering.changes import changes
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports

from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.parties import (
    ORG_A, ORG_B, module_fixture, two_parties)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import settings
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_callers import (
    allowed, PRODUCTPAGE, SLEEP, two_consumers, WEB)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_model_peers import (
    body_of, verified)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_render_peers import (
    imports_of, spec)

two = module_fixture(two_parties)

QUOTA = {"requests_per_second": 5}


def details_with(cluster1_extra, cluster3_callers=None):
    """test_callers' seed with two consumers of details, cluster1 granted default/bookinfo-productpage and
    ``cluster1_extra`` (quota, state) besides."""
    clusters = two_consumers(["default/bookinfo-productpage"], cluster3_callers)
    clusters["cluster2"]["exports"][1]["consumers"][0].update(cluster1_extra)
    return build_model(clusters, settings())


def exports_and_policies(federation):
    exports = render_exports(federation, "cluster2")
    return (exports, spec(exports, "AuthorizationPolicy", "meshfed-deny-export-details"),
            spec(exports, "AuthorizationPolicy", "meshfed-export-details"))


def test_a_consumers_entry_takes_callers_quota_and_state_together():
    federation = details_with({"quota": QUOTA, "state": "drained"})
    cluster1, cluster3 = federation.clusters["cluster2"].exports[1].grants
    assert (cluster1.callers, cluster1.quota, cluster1.state) == (
        ("default/bookinfo-productpage",), Quota(5, None), "drained")
    assert (cluster3.callers, cluster3.quota, cluster3.state) == (None, None, "active")
    # and all three survive the validated model handed to the role modules
    assert model_from_data(json.loads(json.dumps(model_data(federation)))) == federation


def test_a_drained_consumer_with_callers_is_refused_whatever_its_caller_and_keeps_its_caller_rules():
    drained, deny, allow = exports_and_policies(details_with({"state": "drained"}, ["shop/*"]))
    assert not allowed(deny, allow, "c1.example.com", PRODUCTPAGE)  # its granted caller: drained
    assert not allowed(deny, allow, "c1.example.com", SLEEP)
    assert allowed(deny, allow, "c3.example.com", WEB)  # the other consumer, its own callers
    assert not allowed(deny, allow, "c3.example.com", PRODUCTPAGE)
    # the caller rules stay beside the drain rule: undrain removes the drain rule only
    dummy, active_deny, active_allow = exports_and_policies(details_with({}, ["shop/*"]))
    assert deny["rules"] == active_deny["rules"] + [
        {"from": [{"source": {"principals": ["c1.example.com/meshfed-gateway"]}}],
         "when": [{"key": "connection.sni", "values": ["details.c2.example.com"]}]}]
    assert allow == active_allow
    assert allowed(active_deny, active_allow, "c1.example.com", PRODUCTPAGE)


def test_a_quota_and_callers_render_the_envoy_filter_the_caller_rules_and_the_consumers_http_hop():
    federation = details_with({"quota": QUOTA})
    exports, deny, allow = exports_and_policies(federation)
    envoy_filter = spec(exports, "EnvoyFilter", "meshfed-quota-export-details")
    config = envoy_filter["configPatches"][0]["patch"]["value"]["typed_config"]
    # the bucket is the consumer's (cluster1), found by the certificate the ingress gateway verified, not per caller
    assert config["descriptors"][0]["entries"] == [{"key": "meshfed-consumer", "value": "cluster1"}]
    assert config["rate_limits"][0]["actions"][0]["header_value_match"]["headers"][0]["name"] == \
        "x-forwarded-client-cert"
    assert {"key": "request.headers[x-meshfed-caller]", "values": [PRODUCTPAGE]} in allow["rules"][0]["when"]
    assert allowed(deny, allow, "c1.example.com", PRODUCTPAGE) and not allowed(deny, allow, "c1.example.com", SLEEP)
    # the consumer's egress gateway, an HTTP hop, drops the sidecar's XFCC: the exporter's gateway writes its own
    route, = spec(imports_of(federation, "cluster1"), "VirtualService",
                  "meshfed-import-default-details-cluster2-details")["http"]
    assert "x-forwarded-client-cert" in route["headers"]["request"]["remove"]
    assert route["headers"]["request"]["set"] == {"x-meshfed-caller": "%DOWNSTREAM_PEER_URI_SAN%"}


def test_the_link_of_a_drained_grant_with_callers_is_not_probed_and_an_active_one_sends_its_caller():
    drained = details_with({"quota": QUOTA, "state": "drained"})
    (link, target), = [(link, target) for link, target in link_targets(drained, drained.clusters["cluster1"], {})
                       if link["export"] == "details"]
    assert (link["drained"], link["quota"], target) == (True, QUOTA, None)
    active = details_with({"quota": QUOTA})
    (link, target), = [(link, target) for link, target in link_targets(active, active.clusters["cluster1"], {})
                       if link["export"] == "details"]
    assert (link["drained"], link["quota"]) == (False, QUOTA)
    assert isinstance(target, Target) and target.caller == PRODUCTPAGE


def org_a_granting(two, **entry):
    """org-a granting ratings to org-b/cluster2 with ``entry`` (callers, quota, state) besides GET /ratings/*."""
    clusters = copy.deepcopy(ORG_A)
    clusters["cluster1"]["exports"][0]["consumers"][0].update(entry)
    return build_model(clusters, {"party": "org-a"}, [verified("org-b", body_of(two, "org-b", "org-a"))])


def test_a_bundle_carries_callers_quota_and_state_and_the_consumer_reads_all_three(two):
    parties, dummy, full = two
    before = parties["org-a"].body_for(full["org-a"], "org-b")
    body = parties["org-a"].body_for(
        org_a_granting(two, callers=["bookinfo/*"], quota={"requests_per_second": 9}, state="drained"), "org-b")
    consumer, = body["clusters"][0]["exports"][0]["consumers"]
    assert consumer == {"cluster": "cluster2", "methods": ["GET"], "paths": ["/ratings/*"], "callers": ["bookinfo/*"],
                        "quota": {"requests_per_second": 9}, "state": "drained"}
    org_b = build_model(copy.deepcopy(ORG_B), {"party": "org-b"}, [verified("org-a", body)])
    grant, = org_b.peers["org-a"].clusters["org-a/cluster1"].exports[0].grants
    assert (grant.callers, grant.quota, grant.state) == (("bookinfo/*",), Quota(9, None), "drained")
    link, target = link_targets(org_b, org_b.clusters["cluster2"], {})[0]
    assert (link["drained"], target) == (True, None)
    assert changes(before, body) == [
        "cluster1: export ratings consumer cluster2 callers any -> bookinfo/*",
        "cluster1: export ratings consumer cluster2 quota none -> 9 requests per second",
        "cluster1: export ratings consumer cluster2 state active -> drained"]
