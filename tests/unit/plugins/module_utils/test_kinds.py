# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kind table: API versions, what each role may own and prune, the creation order."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import (
    KINDS, is_shared, kind_api_version, kind_rank, role_kinds)
from ansible_collections.meshfed.federation.plugins.module_utils.model.build import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import render_gateways
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.scenarios import (
    CREDENTIAL, seed, settings)


def test_istio_kinds_follow_the_networking_version_and_core_kinds_keep_theirs():
    assert kind_api_version("AuthorizationPolicy", "networking.istio.io/v1beta1") == "security.istio.io/v1beta1"
    assert kind_api_version("Gateway", "networking.istio.io/v1beta1") == "networking.istio.io/v1beta1"
    assert kind_api_version("Deployment", "networking.istio.io/v1beta1") == "apps/v1"
    assert ("security.istio.io/v1", "AuthorizationPolicy") in role_kinds("import", "networking.istio.io/v1")


def test_a_namespace_is_shared_and_never_pruned():
    assert is_shared("Namespace") and not is_shared("Service") and not is_shared("ConfigMap")


def test_every_rendered_kind_is_in_the_table_under_its_role_and_version():
    federation = build_model(seed(), settings())
    peers = {"cluster2": federation.clusters["cluster2"].gateway_address}
    for role, objects in (("gateway", render_gateways(federation, "cluster1", CREDENTIAL)),
                          ("gateway", render_gateways(federation, "cluster2", CREDENTIAL)),
                          ("export", render_exports(federation, "cluster2")),
                          ("import", render_imports(federation, "cluster1", peers))):
        owned = role_kinds(role, federation.settings.istio_api_version)
        assert objects and all((o["apiVersion"], o["kind"]) in owned for o in objects), role


def test_the_creation_order_puts_what_others_refer_to_first():
    names = [k.name for k in KINDS]
    assert names.index("Namespace") == 0
    assert kind_rank("ServiceAccount") < kind_rank("Deployment")
    assert kind_rank("AuthorizationPolicy") < kind_rank("Gateway")
    assert kind_rank("EnvoyFilter") < kind_rank("Gateway")  # a server never serves without its quotas


def test_envoy_filters_keep_their_one_api_version():
    from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import kind_api_version, role_kinds
    for version in ("networking.istio.io/v1", "networking.istio.io/v1beta1"):
        assert kind_api_version("EnvoyFilter", version) == "networking.istio.io/v1alpha3"
        assert ("networking.istio.io/v1alpha3", "EnvoyFilter") in role_kinds("export", version)
        assert "EnvoyFilter" not in [k for dummy, k in role_kinds("import", version)]
    assert kind_rank("ConfigMap") == len(KINDS)  # not ours: last


def test_the_shipped_least_privilege_cluster_role_is_the_kind_table():
    import os
    import yaml
    from ansible_collections.meshfed.federation.plugins.module_utils.kube.kinds import (
        KINDS, LOCK_RULES, cluster_role_rules)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    with open(os.path.join(repo, "docs", "rbac", "meshfed-cluster-role.yaml")) as f:
        role = yaml.safe_load(f)
    with open(os.path.join(repo, "docs", "rbac", "meshfed-lock-role.yaml")) as f:
        lock_role = yaml.safe_load(f)
    assert role["kind"] == "ClusterRole" and role["rules"] == cluster_role_rules()
    assert lock_role["kind"] == "Role" and lock_role["metadata"]["namespace"] == "kube-system"
    assert lock_role["rules"] == LOCK_RULES
    granted = set((group, resource) for rule in role["rules"] for group in rule["apiGroups"]
                  for resource in rule["resources"] if "patch" in rule["verbs"] and "delete" in rule["verbs"])
    assert len(granted) == len(KINDS)  # every kind meshfed writes, nothing else
    assert not [r for r in role["rules"] if "*" in r["verbs"] or "*" in r["resources"] or "escalate" in r["verbs"]]
