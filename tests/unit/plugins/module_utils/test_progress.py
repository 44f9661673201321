# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The progress line of a cluster role: counts by kind from the module result, never a name."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.apply.progress import (
    kind_counts, preflight_line, progress_line)

IMPORT_RESULT = {
    "cluster": "cluster1", "role": "import",
    "created": ["VirtualService default/reviews", "AuthorizationPolicy istio-private-gateways/meshfed-import-a",
                "VirtualService istio-private-gateways/meshfed-import-a"],
    "updated": ["ServiceEntry default/meshfed-reviews"],
    "deleted": [],
    "unchanged": ["DestinationRule default/reviews-%d" % i for i in range(10)],
    "conflicts": [],
}


def test_the_line_counts_by_kind_the_most_frequent_first():
    assert progress_line(IMPORT_RESULT, 0.42) == (
        "cluster1 import: 14 objects, created 3 (VirtualService 2, AuthorizationPolicy 1), updated 1 (ServiceEntry 1), "
        "deleted 0, unchanged 10 [0.4 s]")


def test_check_mode_says_what_would_be_done():
    assert progress_line(IMPORT_RESULT, 1.25, check_mode=True) == (
        "cluster1 import (check mode): 14 objects, would create 3 (VirtualService 2, AuthorizationPolicy 1), "
        "would update 1 (ServiceEntry 1), would delete 0, unchanged 10 [1.2 s]")


def test_deleted_objects_are_not_among_the_wanted_ones():
    result = {"cluster": "cluster2", "role": "export", "created": [], "updated": [], "unchanged": [],
              "deleted": ["Gateway istio-private-gateways/meshfed-export", "VirtualService bookinfo/x",
                          "Gateway bookinfo/y"]}
    assert progress_line(result, 0.04) == (
        "cluster2 export: 0 objects, created 0, updated 0, deleted 3 (Gateway 2, VirtualService 1), unchanged 0 "
        "[0.0 s]")


def test_the_released_gateway_namespace_is_reported_without_what_it_holds():
    result = {"cluster": "cluster2", "role": "gateway", "created": [], "updated": [], "unchanged": [],
              "deleted": ["Secret istio-private-gateways/c2.example.com", "Namespace istio-private-gateways"]}
    kept = dict(result, namespace="kept: it holds objects meshfed does not own (Secret istio-private-gateways/mine)")
    assert progress_line(kept, 2).endswith(
        "deleted 2 (Namespace 1, Secret 1), unchanged 0, namespace kept [2.0 s]")
    assert progress_line(dict(result, namespace="deleted"), 2, check_mode=True).endswith(
        "would delete 2 (Namespace 1, Secret 1), unchanged 0, namespace would be deleted [2.0 s]")


def test_names_never_reach_the_line():
    secret = "Secret istio-private-gateways/c2.example.com-LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t"
    line = progress_line({"cluster": "c", "role": "gateway", "created": [secret], "updated": [secret],
                          "unchanged": [secret], "deleted": [secret]}, 0)
    assert "LS0t" not in line and "c2.example.com" not in line and "istio-private-gateways" not in line
    assert kind_counts([secret, "Namespace istio-private-gateways"]) == "Namespace 1, Secret 1"


def test_a_result_without_lists_still_gives_a_line():
    assert progress_line({"cluster": "c", "role": "export"}, 0.05) == (
        "c export: 0 objects, created 0, updated 0, deleted 0, unchanged 0 [0.1 s]")


def test_a_preflight_line_counts_what_is_in_the_way_by_kind_and_gives_the_verdict():
    blocked = {"cluster": "cluster2", "role": "export", "objects": 8, "changes": 2, "blocked": True,
               "conflicts": ["Gateway istio-private-gateways/meshfed-export-ratings"]}
    assert preflight_line(blocked, 0.12) == (
        "cluster2 export preflight: 8 objects, to write 2, in the way 1 (Gateway 1): blocked [0.1 s]")
    hosted = {"cluster": "cluster1", "role": "import", "objects": 14, "changes": 0, "blocked": False, "conflicts": [],
              "host_conflicts": [{"kind": "VirtualService", "namespace": "default", "name": "my-routes"}]}
    line = preflight_line(hosted, 0.2)
    assert line == ("cluster1 import preflight: 14 objects, to write 0, in the way 0, host conflicts 1 (VirtualService 1): "
                    "clear [0.2 s]")
    assert "my-routes" not in line
