# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every kind meshfed writes, in one table: its API, the roles that own it, and the order writes go in."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

NETWORKING = "networking.istio.io"
SECURITY = "security.istio.io"

# api: the apiVersion of a Kubernetes kind, or the Istio API group (its version is the federation's
#      istio_api_version setting)
# roles: the roles whose objects may be of this kind (prune lists it for them even when none is wanted)
# shared: created when missing, used as it is when someone else's, never pruned: a Namespace (deleting it
#      deletes whatever else lives in it; the engine deletes ours only once it is empty)
Kind = namedtuple("Kind", "name api roles shared")

# In creation order: what others refer to first (a Namespace before what lives in it, a ServiceAccount before
# the Deployment that uses it, an AuthorizationPolicy before the Gateway server it guards). Deletes go in reverse.
KINDS = (
    Kind("Namespace", "v1", ("gateway",), True),
    Kind("ServiceAccount", "v1", ("gateway",), False),
    Kind("Secret", "v1", ("gateway",), False),
    Kind("Role", "rbac.authorization.k8s.io/v1", ("gateway",), False),
    Kind("RoleBinding", "rbac.authorization.k8s.io/v1", ("gateway",), False),
    Kind("Service", "v1", ("gateway", "import"), False),
    Kind("Deployment", "apps/v1", ("gateway",), False),
    Kind("HorizontalPodAutoscaler", "autoscaling/v2", ("gateway",), False),
    Kind("PodDisruptionBudget", "policy/v1", ("gateway",), False),
    Kind("ServiceEntry", NETWORKING, ("import",), False),
    Kind("DestinationRule", NETWORKING, ("export", "import"), False),
    Kind("AuthorizationPolicy", SECURITY, ("export", "import"), False),
    Kind("Gateway", NETWORKING, ("export", "import"), False),
    Kind("VirtualService", NETWORKING, ("export", "import"), False),
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


def prunable_kinds(role):
    return set(k.name for k in KINDS if role in k.roles and not k.shared)


def is_shared(kind):
    return kind in BY_NAME and BY_NAME[kind].shared


def kind_rank(kind):
    """Position in the creation order; a kind meshfed does not write goes last."""
    return KINDS.index(BY_NAME[kind]) if kind in BY_NAME else len(KINDS)
