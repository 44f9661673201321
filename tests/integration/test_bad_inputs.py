# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input through `ansible-playbook playbooks/federate.yml`, as a user writes it in the inventory: each case is
refused with a message naming the cluster (or peer), the variable and the field, no Python traceback, and nothing
changes in any cluster (the federation applied before is left exactly as it was)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    OWNED, pki_dir_for, run_playbook, settle_namespace, write_inventory, write_marks)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

FEDERATION = "badinput"
CLUSTERS = ("cluster1", "cluster2")


def export(hosts, index=0):
    return hosts["cluster2"]["meshfed_exports"][index]


def imported(hosts, index=0):
    return hosts["cluster1"]["meshfed_imports"][index]


def setter(target, key, value):
    def change(hosts):
        target(hosts)[key] = value
    return change


def host_var(cluster, var, value):
    def change(hosts):
        hosts[cluster][var] = value
    return change


def group_var(var, value):
    return ("group", var, value)


E, I = export, imported
# (case, change of the hosts or ("group", variable, value), what the message must say)
CASES = [
    # wrong types
    ("export port as a string", setter(lambda h: E(h)["service"], "port", "9080"),
     ["cluster2: meshfed_exports[0] (reviews-v2)", "service.port '9080' is not a port number"]),
    ("import port as a string", setter(I, "port", "9080"), ["cluster1: meshfed_imports[0] (reviews)", "port '9080'"]),
    ("import port null", setter(I, "port", None), ["cluster1: meshfed_imports[0] (reviews)", "port None"]),
    ("import port a list", setter(I, "port", [9080]), ["cluster1: meshfed_imports[0] (reviews)", "port [9080]"]),
    ("port out of range", setter(I, "port", 70000), ["meshfed_imports[0] (reviews)", "port 70000 is not a port number"]),
    ("port zero", setter(lambda h: E(h)["service"], "port", 0), ["meshfed_exports[0] (reviews-v2)", "service.port 0"]),
    ("port a boolean", setter(I, "port", True), ["meshfed_imports[0] (reviews)", "port True"]),
    ("subset label value a number", setter(lambda h: E(h)["subset"], "labels", {"version": 2}),
     ["meshfed_exports[0] (reviews-v2)", "subset.labels[version] value 2 is not a valid label value"]),
    ("subset labels a list", setter(lambda h: E(h)["subset"], "labels", ["version=v2"]),
     ["meshfed_exports[0] (reviews-v2)", "subset.labels must be a non-empty mapping"]),
    ("exports a mapping", host_var("cluster2", "meshfed_exports", {"name": "x"}),
     ["cluster2", "meshfed_exports must be a list"]),
    ("imports a string", host_var("cluster1", "meshfed_imports", "reviews"),
     ["cluster1", "meshfed_imports must be a list"]),
    ("an export a string", host_var("cluster2", "meshfed_exports", ["reviews-v2"]),
     ["cluster2: meshfed_exports[0]", "must be a mapping"]),
    ("service a string", setter(E, "service", "bookinfo/myreviews:9080"),
     ["meshfed_exports[0] (reviews-v2)", "service is required: a mapping with namespace, name and port"]),
    ("from a mapping", setter(I, "from", {"cluster": "cluster2", "export": "reviews-v2"}),
     ["meshfed_imports[0] (reviews)", "from must list at least one"]),
    ("weight a string", setter(lambda h: I(h)["from"][0], "weight", "50"),
     ["meshfed_imports[0] (reviews)", "weights must be integers between 0 and 100"]),
    ("consumers a string", setter(E, "consumers", "cluster1"),
     ["meshfed_exports[0] (reviews-v2)", "consumers must list at least one cluster"]),
    ("timeout a number", setter(I, "timeout", 5), ["meshfed_imports[0] (reviews)", "timeout 5 is not a duration"]),
    ("retries attempts a string", setter(lambda h: I(h)["retries"], "attempts", "three"),
     ["meshfed_imports[0] (reviews)", "retries.attempts 'three' must be a non-negative integer"]),
    ("retries a list", setter(I, "retries", [3]), ["meshfed_imports[0] (reviews)", "retries must be a mapping"]),
    ("local a string", setter(I, "local", "v1"), ["meshfed_imports[0] (reviews): local", "must be a mapping"]),
    ("gateway address a number", host_var("cluster2", "meshfed_gateway_address", 15443),
     ["cluster2", "meshfed_gateway_address must be 'discover', 'host:port' or a mapping"]),
    ("gateway address port a string", host_var("cluster2", "meshfed_gateway_address",
                                               {"address": "203.0.113.10", "port": "15443"}),
     ["cluster2", "meshfed_gateway_address.port '15443' is not a port number"]),
    # unknown fields (typos)
    ("export typo", setter(E, "consumer", ["cluster1"]),
     ["meshfed_exports[0] (reviews-v2)", "unknown field 'consumer'"]),
    ("import typo", setter(I, "namepsace", "default"), ["meshfed_imports[0] (reviews)", "unknown field 'namepsace'"]),
    ("service typo", setter(lambda h: E(h)["service"], "namspace", "bookinfo"),
     ["meshfed_exports[0] (reviews-v2): service", "unknown field 'namspace'"]),
    ("from typo", setter(lambda h: I(h)["from"][0], "exprt", "reviews-v2"),
     ["meshfed_imports[0] (reviews): from[0]", "unknown field 'exprt'"]),
    ("retries typo", setter(lambda h: I(h)["retries"], "retry", "5xx"),
     ["meshfed_imports[0] (reviews): retries", "unknown field 'retry'"]),
    ("local typo", setter(lambda h: I(h)["local"], "wieght", 50), ["meshfed_imports[0] (reviews): local", "unknown field 'wieght'"]),
    ("subset typo", setter(lambda h: E(h)["subset"], "label", {"version": "v2"}),
     ["meshfed_exports[0] (reviews-v2): subset", "unknown field 'label'"]),
    ("gateway address typo", host_var("cluster2", "meshfed_gateway_address", {"adress": "203.0.113.10"}),
     ["cluster2: meshfed_gateway_address", "unknown field 'adress'"]),
    ("consumer entry typo", setter(E, "consumers", [{"cluster": "cluster1", "method": ["GET"]}]),
     ["meshfed_exports[0] (reviews-v2): consumers[0]", "unknown field 'method'"]),
    # duplicates
    ("duplicate export", lambda h: h["cluster2"]["meshfed_exports"].append(dict(export(h))),
     ["cluster2", "duplicate export name in meshfed_exports 'reviews-v2'"]),
    ("duplicate import", lambda h: h["cluster1"]["meshfed_imports"].append(dict(imported(h, 1))),
     ["cluster1", "duplicate import (namespace/name) in meshfed_imports 'default/details'"]),
    ("duplicate consumer", setter(E, "consumers", ["cluster1", "cluster1"]),
     ["meshfed_exports[0] (reviews-v2)", "duplicate consumer 'cluster1'"]),
    ("duplicate source", lambda h: I(h, 1)["from"].append(dict(I(h, 1)["from"][0])),
     ["meshfed_imports[1] (details)", "duplicate source (cluster/export) in from 'cluster2/details'"]),
    ("duplicate identity", host_var("cluster2", "meshfed_identity", "c1.example.com"),
     ["meshfed_identity 'c1.example.com' is also used by"]),
    # cross-references
    ("unknown peer cluster", setter(lambda h: I(h)["from"][0], "cluster", "cluster9"),
     ["meshfed_imports[0] (reviews): from[0]", "unknown peer cluster 'cluster9'"]),
    ("unknown export", setter(lambda h: I(h, 1)["from"][0], "export", "ratings"),
     ["meshfed_imports[1] (details): from[0]", "has no export named 'ratings'"]),
    ("export not granted", setter(lambda h: E(h, 1), "consumers", ["cluster3"]),
     ["meshfed_imports[1] (details): from[0]", "is not granted to cluster1"]),
    ("unknown consumer", setter(E, "consumers", ["cluster1", "cluster7"]),
     ["meshfed_exports[0] (reviews-v2)", "consumers[1]: unknown cluster 'cluster7'"]),
    ("own export consumed", setter(E, "consumers", ["cluster2"]),
     ["meshfed_exports[0] (reviews-v2)", "a cluster cannot consume its own export"]),
    ("import from itself", setter(lambda h: I(h)["from"][0], "cluster", "cluster1"),
     ["meshfed_imports[0] (reviews): from[0]", "is this cluster"]),
    ("protocol mismatch", setter(I, "protocol", "tcp"), ["meshfed_imports[0] (reviews)", "timeout and retries apply to http imports only"]),
    ("protocol mismatch plain", setter(lambda h: I(h, 1), "protocol", "tcp"),
     ["meshfed_imports[1] (details): from[0]", "protocol tcp does not match export 'details'"]),
    ("weights not 100", setter(lambda h: I(h)["from"][0], "weight", 40),
     ["meshfed_imports[0] (reviews)", "add up to 90, not 100"]),
    ("weight missing on a split", lambda h: I(h)["from"][0].pop("weight"),
     ["meshfed_imports[0] (reviews)", "weight is required on every source and on local"]),
    ("peer not listed", setter(lambda h: I(h)["from"][0], "cluster", "org-b/cluster2"),
     ["meshfed_imports[0] (reviews): from[0]", "names peer 'org-b', which meshfed_peers does not list"]),
    # invalid names and identities
    ("uppercase export name", setter(E, "name", "Reviews-V2"),
     ["meshfed_exports[0] (Reviews-V2)", "name 'Reviews-V2' is not a valid DNS-1123 label"]),
    ("wildcard identity", host_var("cluster2", "meshfed_identity", "*.example.com"),
     ["cluster2", "meshfed_identity '*.example.com' is not a valid lowercase DNS name"]),
    ("uppercase identity", host_var("cluster1", "meshfed_identity", "C1.Example.com"),
     ["cluster1", "meshfed_identity 'C1.Example.com' is not a valid lowercase DNS name"]),
    ("over-long import name", setter(I, "name", "r" * 64),
     ["meshfed_imports[0]", "is not a valid DNS-1123 label (lowercase alphanumerics and '-', at most 63 characters)"]),
    ("over-long identity", host_var("cluster1", "meshfed_identity", ("a" * 60 + ".") * 5 + "com"),
     ["cluster1", "is not a valid lowercase DNS name"]),
    ("missing identity", lambda h: h["cluster1"].pop("meshfed_identity"), ["cluster1: meshfed_identity is missing"]),
    ("namespace with underscore", setter(I, "namespace", "my_ns"),
     ["meshfed_imports[0] (reviews)", "namespace 'my_ns' is not a valid DNS-1123 label"]),
    ("path prefix without slash", setter(lambda h: E(h, 1), "path_prefix", "details"),
     ["meshfed_exports[1] (details)", "path_prefix 'details' must start with '/'"]),
    ("probe path outside the prefix", setter(lambda h: E(h, 1), "probe_path", "/health"),
     ["meshfed_exports[1] (details)", "probe_path /health is not under the export's path_prefix /details"]),
    ("methods on a tcp export",
     lambda h: E(h, 1).update(protocol="tcp", path_prefix=None, probe_path=None,
                              consumers=[{"cluster": "cluster1", "methods": ["GET"]}]),
     ["meshfed_exports[1] (details): consumers[0]", "methods and paths apply to http exports only"]),
    ("unknown method", setter(lambda h: E(h, 1), "consumers", [{"cluster": "cluster1", "methods": ["FETCH"]}]),
     ["meshfed_exports[1] (details): consumers[0]", "methods ['FETCH'] must be a non-empty list of"]),
    ("bad policy path", setter(lambda h: E(h, 1), "consumers", [{"cluster": "cluster1", "paths": ["*/a/*"]}]),
     ["meshfed_exports[1] (details): consumers[0]", "paths ['*/a/*'] must be a non-empty list of paths"]),
    ("zero quota", setter(lambda h: E(h, 1), "consumers", [{"cluster": "cluster1", "quota": {"requests_per_second": 0}}]),
     ["meshfed_exports[1] (details): consumers[0]", "quota.requests_per_second 0 must be an integer from 1 to"]),
    ("unknown grant state", setter(lambda h: E(h, 1), "consumers", [{"cluster": "cluster1", "state": "paused"}]),
     ["meshfed_exports[1] (details): consumers[0]", "state 'paused' must be one of active, drained"]),
    ("loopback gateway address", host_var("cluster2", "meshfed_gateway_address", {"address": "127.0.0.1", "port": 15443}),
     ["cluster2", "meshfed_gateway_address.address 127.0.0.1 is a loopback address"]),
    # bad settings
    group_var("meshfed_federation_name", "Bookinfo Lab") + (["settings: meshfed_federation_name 'Bookinfo Lab'"],),
    group_var("meshfed_gateway_namespace", "Private_Gateways") + (["settings: meshfed_gateway_namespace 'Private_Gateways'"],),
    group_var("meshfed_ingress_port", "15443") + (["settings: meshfed_ingress_port '15443' is not a port number"],),
    group_var("meshfed_egress_port", 0) + (["settings: meshfed_egress_port 0 is not a port number"],),
    group_var("meshfed_cert_delivery", "vault") + (["settings: meshfed_cert_delivery 'vault' must be one of sds, file"],),
    group_var("meshfed_istio_api_version", "networking.istio.io/v1alpha3") + (
        ["settings: meshfed_istio_api_version 'networking.istio.io/v1alpha3' must be one of"],),
    group_var("meshfed_ingress_service_type", "Ingress") + (["settings: meshfed_ingress_service_type 'Ingress'"],),
    group_var("meshfed_autoscale_min", 0) + (["settings: meshfed_autoscale_min 0 must be a positive integer"],),
    group_var("meshfed_autoscale_max", "five") + (["settings: meshfed_autoscale_max 'five' must be a positive integer"],),
    group_var("meshfed_istio_revision", "1.28") + (["settings: meshfed_istio_revision '1.28'"],),
    group_var("meshfed_allow_local_gateway_addresses", "maybe") + (
        ["settings: meshfed_allow_local_gateway_addresses 'maybe' must be true or false"],),
    group_var("meshfed_ca_scope", "per-cluster") + (["settings: meshfed_ca_scope 'per-cluster' must be one of"],),
    group_var("meshfed_party", "Org A") + (["settings: meshfed_party 'Org A' is not a valid DNS-1123 label"],),
    group_var("meshfed_ingress_load_balancer_source_ranges", ["203.0.113.7"]) + (
        ["settings: meshfed_ingress_load_balancer_source_ranges[0] '203.0.113.7' is not a CIDR"],),
    group_var("meshfed_peer_tcp_keepalive", {"time": "45s", "probes": 0}) + (
        ["settings: meshfed_peer_tcp_keepalive.probes 0 must be an integer between 1 and 127"],),
    # bad peers
    group_var("meshfed_peers", {"name": "org-b"}) + (["meshfed_peers must be a list"],),
    group_var("meshfed_peers", [{"name": "Org_B", "bundle": "x.json"}]) + (
        ["meshfed_peers[0] (Org_B): name 'Org_B' is not a valid DNS-1123 label"],),
    group_var("meshfed_peers", [{"name": "org-b", "bundel": "x.json"}]) + (
        ["meshfed_peers[0] (org-b): unknown field 'bundel'"],),
    group_var("meshfed_peers", [{"name": "org-b", "document": "not a bundle {"}]) + (
        ["peer org-b (meshfed_peers[0] (org-b).document)", "bundle field document: not a mapping"],),
    group_var("meshfed_peers", [{"name": "org-b", "document": {"apiVersion": "v1", "kind": "ConfigMap"}}]) + (
        ["peer org-b (meshfed_peers[0] (org-b).document)", "bundle field apiVersion"],),
    group_var("meshfed_peers", [{"name": "org-b", "bundle": "not-handed-yet.json", "trust_on_first_use": "perhaps"}]) + (
        ["meshfed_peers[0] (org-b): trust_on_first_use 'perhaps' must be true or false"],),
    group_var("meshfed_peers", [{"name": FEDERATION}]) + (
        ["meshfed_peers[0] (%s)" % FEDERATION, "peer '%s' is this inventory's own party (meshfed_party)" % FEDERATION],),
    group_var("meshfed_peers", [{"name": "org-b", "bundle": "/"}]) + (
        ["meshfed_peers[0] (org-b): bundle / cannot be read: Is a directory"],),
    # the PKI directory cannot be written (a file is where the directory should be)
    group_var("meshfed_pki_dir", "/etc/hostname/pki") + (["/etc/hostname"],),
]


def is_group(case):
    return case[0] == "group"


def case_id(case):
    return "%s=%r" % (case[1], case[2]) if is_group(case) else case[0]


def snapshot(lab):
    """Per cluster, the write marks of every meshfed object."""
    return dict((cluster, write_marks(lab, cluster, OWNED)) for cluster in CLUSTERS)


def run_case(lab, root, index, case):
    """(case name, the words its message must hold, the run) of federate.yml on the changed inventory."""
    directory = os.path.join(root, "case%02d" % index)
    if is_group(case):
        dummy, var, value, words = case
        write_inventory(directory, lab.kubeconfig, FEDERATION, group_mutate=lambda group: group.update({var: value}),
                        pki_dir=pki_dir_for(os.path.join(root, "inventory")))
    else:
        dummy, change, words = case
        write_inventory(directory, lab.kubeconfig, FEDERATION, mutate=change,
                        pki_dir=pki_dir_for(os.path.join(root, "inventory")))
    return case_id(case), words, run_playbook("federate.yml", directory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=300)


@pytest.fixture(scope="module")
def federated(lab, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("bad-inputs"))
    inventory = write_inventory(os.path.join(root, "inventory"), lab.kubeconfig, FEDERATION)
    for cluster in CLUSTERS:
        settle_namespace(lab, cluster, "istio-private-gateways")
    good = run_playbook("federate.yml", inventory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=600)
    assert good.rc == 0, good.stdout[-3000:]
    try:
        yield root
    finally:
        run_playbook("unfederate.yml", inventory, env={"MESHFED_LAB_DIR": lab.dir}, timeout=600)


def test_at_least_sixty_distinct_bad_inputs():
    assert len(CASES) >= 60 and len(set(case_id(c) for c in CASES)) == len(CASES)


def test_every_bad_input_is_refused_by_name_without_a_traceback_and_changes_nothing(lab, federated):
    before = snapshot(lab)
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda item: run_case(lab, federated, *item), enumerate(CASES)))
    problems = []
    for name, words, run in runs:
        message = run.failure()
        output = run.stdout + run.stderr
        if run.rc == 0:
            problems.append("%s: the run succeeded" % name)
        elif "Traceback" in output:
            problems.append("%s: a Python traceback in the output" % name)
        elif not all(word in message for word in words):
            problems.append("%s: %r does not say %r" % (name, message[:600], words))
    assert not problems, "\n".join(problems)
    assert snapshot(lab) == before
