# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every kind meshfed writes, in one table: its API, the roles that own it, and the order writes go in."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import api_group

NETWORKING = "networking.istio.io"
SECURITY = "security.istio.io"
ENVOY_FILTER_API = "networking.istio.io/v1alpha3"

# api: the apiVersion of a Kubernetes kind, or the Istio API group (its version is the federation's
#      istio_api_version setting)
# roles: the roles whose objects may be of this kind (prune lists it for them even when none is wanted)
# shared: created when missing, used as it is when someone else's, never pruned: a Namespace (deleting it
#      deletes whatever else lives in it; the engine deletes ours only once it is empty)
# plural: the resource name in the API (RBAC rules, the least-privilege ClusterRole)
Kind = namedtuple("Kind", "name api roles shared plural")

# In creation order: what others refer to first (a Namespace before what lives in it, a ServiceAccount before
# the Deployment that uses it, an AuthorizationPolicy before the Gateway server it guards). Deletes go in reverse;
# the gateways' Secrets go before the RBAC that lets istiod serve them (a gateway asking for a certificate while its
# Secret is gone is told "not found"; without its RoleBinding, "not authorized", which istiod keeps a minute).
KINDS = (
    Kind("Namespace", "v1", ("gateway",), True, "namespaces"),
    Kind("ServiceAccount", "v1", ("gateway",), False, "serviceaccounts"),
    Kind("Role", "rbac.authorization.k8s.io/v1", ("gateway",), False, "roles"),
    Kind("RoleBinding", "rbac.authorization.k8s.io/v1", ("gateway",), False, "rolebindings"),
    Kind("Secret", "v1", ("gateway",), False, "secrets"),
    Kind("Service", "v1", ("gateway", "import"), False, "services"),
    Kind("Deployment", "apps/v1", ("gateway",), False, "deployments"),
    Kind("HorizontalPodAutoscaler", "autoscaling/v2", ("gateway",), False, "horizontalpodautoscalers"),
    Kind("PodDisruptionBudget", "policy/v1", ("gateway",), False, "poddisruptionbudgets"),
    Kind("ServiceEntry", NETWORKING, ("import",), False, "serviceentries"),
    Kind("DestinationRule", NETWORKING, ("export", "import"), False, "destinationrules"),
    Kind("AuthorizationPolicy", SECURITY, ("export", "import"), False, "authorizationpolicies"),
    # quotas of an export's consumers, before the Gateway whose servers' filter chains they patch; an API of its own
    # version (EnvoyFilter has no v1 nor v1beta1)
    Kind("EnvoyFilter", ENVOY_FILTER_API, ("export",), False, "envoyfilters"),
    Kind("Gateway", NETWORKING, ("export", "import"), False, "gateways"),
    Kind("VirtualService", NETWORKING, ("export", "import"), False, "virtualservices"),
)
BY_NAME = dict((kind.name, kind) for kind in KINDS)


def istio_api_version(group, networking_api_version):
    """An Istio group in the version of the networking API in use: v1 and v1beta1 came with the same Istio
    releases for networking and security (v1 in 1.22)."""
    return "%s/%s" % (group, networking_api_version.split("/", 1)[1])


def kind_api_version(kind, networking_api_version):
    api = BY_NAME[kind].api
    return istio_api_version(api, networking_api_version) if api in (NETWORKING, SECURITY) else api


def role_kinds(role, networking_api_version):
    """(apiVersion, kind) of every kind one role may own."""
    return [(kind_api_version(k.name, networking_api_version), k.name) for k in KINDS if role in k.roles]


def is_shared(kind):
    return kind in BY_NAME and BY_NAME[kind].shared


def kind_rank(kind):
    """Position in the creation order; a kind meshfed does not write goes last."""
    return KINDS.index(BY_NAME[kind]) if kind in BY_NAME else len(KINDS)


# what else may live in the gateway namespace, looked for (LIST) before meshfed deletes it: anyone's objects keep it
NAMESPACE_CONTENT = (("v1", "ConfigMap", "configmaps"), ("v1", "Secret", "secrets"),
                     ("v1", "ServiceAccount", "serviceaccounts"), ("v1", "Service", "services"),
                     ("apps/v1", "Deployment", "deployments"), ("v1", "Pod", "pods"))
NAMESPACE_CONTENT_KINDS = [(api_version, kind) for api_version, kind, dummy in NAMESPACE_CONTENT]

# what apply, prune and the reports do: read (get, list), server-side apply (create for a new object, patch),
# delete; watch on Secrets because the gateway Role meshfed writes grants it, and Kubernetes lets no one grant
# what they do not hold (RBAC escalation prevention)
VERBS = ("get", "list", "create", "patch", "delete")
GRANTED_TO_GATEWAYS = {"secrets": ("watch",)}


def cluster_role_rules():
    """The rules of the least-privilege ClusterRole: exactly the kinds meshfed writes and reads, per API group."""
    rules = []
    written = set(k.plural for k in KINDS)
    for group in sorted(set(api_group_of(kind) for kind in KINDS)):
        resources = sorted(k.plural for k in KINDS if api_group_of(k) == group)
        rules.append({"apiGroups": [group], "resources": resources, "verbs": list(VERBS)})
        extra = sorted(set(v for r in resources for v in GRANTED_TO_GATEWAYS.get(r, ())))
        if extra:
            rules.append({"apiGroups": [group], "resources": sorted(r for r in resources if r in GRANTED_TO_GATEWAYS),
                          "verbs": extra})
        looked_at = sorted(plural for api_version, dummy, plural in NAMESPACE_CONTENT
                           if api_group(api_version) == group and plural not in written)
        if looked_at:
            rules.append({"apiGroups": [group], "resources": looked_at, "verbs": ["list"]})
        rules.extend(read_only_rules(group))
    return rules


# what the mesh settings checks read (module_utils/kube/mesh_settings.py), read-only: the mesh config's ConfigMap by name
# (istio-system/istio; a revisioned control plane's is istio-<revision>, whose name a ClusterRole for it must add),
# and the Sidecars of the importing namespaces and of the root namespace. Namespaces and Services are kinds meshfed
# writes, so their get is granted already.
MESH_CONFIG_NAMES = ("istio",)
READ_FOR_CHECKS = (("", "configmaps", ("get",), MESH_CONFIG_NAMES), (NETWORKING, "sidecars", ("list",), None))


def read_only_rules(group):
    rules = []
    for rule_group, plural, verbs, names in READ_FOR_CHECKS:
        if rule_group == group:
            rule = {"apiGroups": [group], "resources": [plural], "verbs": list(verbs)}
            if names:
                rule["resourceNames"] = list(names)
            rules.append(rule)
    return rules


# the federation lock (module_utils/apply/lock.py): a Lease in one namespace (kube-system unless the playbooks are told
# otherwise), granted by a Role there rather than cluster-wide, where leases elect the cluster's own controllers
LOCK_RULES = [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
               "verbs": ["get", "create", "update", "delete"]}]


def api_group_of(kind):
    """The API group of a kind ('' for the core group), whatever the version of the Istio APIs."""
    return api_group(kind_api_version(kind.name, "networking.istio.io/v1"))
