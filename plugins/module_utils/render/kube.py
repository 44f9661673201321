# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders of core Kubernetes objects (plain dicts), one function per kind."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64


def metadata(name, namespace, labels, annotations=None):
    meta = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def namespace(name, labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, None, labels)}


def service_account(name, ns, labels):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(name, ns, labels)}


def _b64(text):
    return base64.b64encode(text.encode("ascii")).decode("ascii")


def tls_secret(name, ns, labels, cert_pem, key_pem, ca_pem):
    """A kubernetes.io/tls Secret with ca.crt beside the pair: the layout Istio's credentialName reads."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, ns, labels),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": _b64(cert_pem), "tls.key": _b64(key_pem), "ca.crt": _b64(ca_pem)},
    }


def ca_secret(name, ns, labels, ca_pem):
    """An Opaque Secret with ca.crt alone: a CA bundle Istio reads by caCertCredentialName (or as <name>-cacert)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, ns, labels),
        "type": "Opaque",
        "data": {"ca.crt": _b64(ca_pem)},
    }


def service(name, ns, labels, ports, selector=None, service_type="ClusterIP", annotations=None,
            load_balancer_source_ranges=None, external_traffic_policy=None):
    """A Service; the annotations, source ranges (LoadBalancer) and external traffic policy (LoadBalancer, NodePort)
    only when given, so that the API server's defaults stay untouched otherwise."""
    spec = {"type": service_type, "ports": [dict(p) for p in ports]}
    if selector:
        spec["selector"] = dict(selector)
    if load_balancer_source_ranges:
        spec["loadBalancerSourceRanges"] = list(load_balancer_source_ranges)
    if external_traffic_policy:
        spec["externalTrafficPolicy"] = external_traffic_policy
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(name, ns, labels, annotations), "spec": spec}


def service_port(name, port, target_port=None, protocol="TCP"):
    entry = {"name": name, "port": port, "protocol": protocol}
    if target_port is not None:
        entry["targetPort"] = target_port
    return entry


def deployment(name, ns, labels, selector, pod_labels, pod_annotations, service_account_name, container, volumes=None):
    """A Deployment without spec.replicas: the HorizontalPodAutoscaler owns that field.

    ``selector`` (immutable once created) holds only labels that never change; the pods carry it and
    ``pod_labels`` (injection labels, say, which change with an Istio revision). Its pods spread over zones and
    nodes (topology_spread)."""
    pod_spec = {"serviceAccountName": service_account_name, "containers": [container],
                "topologySpreadConstraints": topology_spread(selector)}
    if volumes:
        pod_spec["volumes"] = volumes
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, ns, labels),
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "template": {
                "metadata": {"labels": dict(selector, **pod_labels), "annotations": dict(pod_annotations)},
                "spec": pod_spec,
            },
        },
    }


def topology_spread(selector):
    """Replicas on different zones, then nodes, where the cluster has several; ScheduleAnyway, so that a cluster
    of one zone or node still runs them all (a drain then evicts them one at a time, as the PDB allows)."""
    return [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": dict(selector)}}
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]


def horizontal_pod_autoscaler(name, ns, labels, target_deployment, min_replicas, max_replicas, cpu_percent):
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, ns, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target_deployment},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu_percent}},
            }],
        },
    }


def pod_disruption_budget(name, ns, labels, pod_labels, max_unavailable=1):
    """maxUnavailable, not minAvailable: with an autoscaler at its minimum of one pod, minAvailable 1 would
    forbid every eviction and block node drains."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, ns, labels),
        "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": dict(pod_labels)}},
    }


def secret_reader_role(name, ns, labels):
    """Read access to the Secrets of one namespace, without resourceNames: istiod lets a gateway use a
    credentialName only after a SubjectAccessReview for ``list secrets`` in the gateway's namespace, which
    names no object, so a rule restricted to resourceNames never matches it."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata(name, ns, labels),
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch", "list"]}],
    }


def role_binding(name, ns, labels, role_name, service_account_name):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata(name, ns, labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": service_account_name, "namespace": ns}],
    }
