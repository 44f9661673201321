# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes API side of apply: connect with kubernetes.core's auth options, list what we own, write
with server-side apply, delete with a uid precondition; every failure becomes a message naming the cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.meshfed.federation.plugins.module_utils.apply import describe, object_key, stamp
from ansible_collections.meshfed.federation.plugins.module_utils.render.labels import selector_string

try:
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError
    from urllib3.exceptions import HTTPError as Urllib3Error
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

FIELD_MANAGER = "meshfed"
# urllib3's words for a server that does not answer, with the endpoint it tried
UNREACHABLE = re.compile(r"host='([^']+)', port=(\d+)\): Max retries exceeded")


class ClusterError(Exception):
    """A failure talking to one cluster, with a message that names it."""


class ClusterClient(object):
    """One cluster's API, counting the requests it sends (discovery excluded)."""

    def __init__(self, cluster, auth):
        self.cluster = cluster
        self.requests = {"list": 0, "get": 0, "apply": 0, "delete": 0}
        try:
            self.client = get_api_client(**auth)
        except Exception as error:  # kubernetes.core wraps config errors in its own exception type
            endpoint = UNREACHABLE.search(str(error))
            if endpoint:
                raise ClusterError("cluster %s: API server at https://%s:%s unreachable: %s"
                                   % (cluster, endpoint.group(1), endpoint.group(2), _short(error)))
            raise ClusterError("cluster %s: cannot build an API client from its kubeconfig/context: %s" % (cluster, error))
        self.host = self.client.configuration.host
        self._resources = {}

    def resource(self, api_version, kind):
        key = (api_version, kind)
        if key not in self._resources:
            try:
                self._resources[key] = self.client.resource(kind, api_version)
            except ResourceNotFoundError:
                if api_version.startswith("networking.istio.io/"):
                    raise ClusterError("Istio is not installed in cluster %s (%s %s is not served by its API server)"
                                       % (self.cluster, api_version, kind))
                raise ClusterError("cluster %s does not serve %s %s" % (self.cluster, api_version, kind))
            except Exception as error:
                raise self._failure(error, "discover", kind)
        return self._resources[key]

    def _failure(self, error, verb, what, namespace=None):
        where = " in namespace %s" % namespace if namespace else ""
        if isinstance(error, ClusterError):
            return error
        status = getattr(error, "status", None)
        if status in (401, 403):
            return ClusterError("cluster %s: not allowed to %s %s%s (%s): %s"
                                % (self.cluster, verb, what, where, status, _reason(error)))
        if status is not None:
            return ClusterError("cluster %s: %s %s%s failed (%s): %s" % (self.cluster, verb, what, where, status, _reason(error)))
        if HAS_KUBERNETES and isinstance(error, (Urllib3Error, OSError)) or "Max retries" in str(error):
            return ClusterError("cluster %s: API server at %s unreachable: %s" % (self.cluster, self.host, _short(error)))
        return ClusterError("cluster %s: %s %s%s failed: %s" % (self.cluster, verb, what, where, _short(error)))

    def list_owned(self, api_version, kind, labels):
        resource = self.resource(api_version, kind)
        self.requests["list"] += 1
        try:
            result = self.client.client.get(resource, label_selector=selector_string(labels))
        except Exception as error:
            raise self._failure(error, "list", kind)
        items = result.to_dict().get("items") or []
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def list_namespace(self, api_version, kind, namespace):
        resource = self.resource(api_version, kind)
        self.requests["list"] += 1
        try:
            return self.client.client.get(resource, namespace=namespace).to_dict().get("items") or []
        except Exception as error:
            raise self._failure(error, "list", kind, namespace)

    def get(self, obj):
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        self.requests["get"] += 1
        try:
            return self.client.client.get(resource, name=meta["name"], namespace=meta.get("namespace")).to_dict()
        except NotFoundError:
            return None
        except Exception as error:
            raise self._failure(error, "get", describe(obj))

    def apply(self, obj):
        """Server-side apply of an object we own (or adopt): our field manager wins its fields."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        self.requests["apply"] += 1
        try:
            return self.client.client.server_side_apply(
                resource, body=stamp(obj), name=meta["name"], namespace=meta.get("namespace"),
                field_manager=FIELD_MANAGER, force_conflicts=True).to_dict()
        except NotFoundError as error:
            if meta.get("namespace"):
                raise ClusterError("cluster %s: cannot apply %s: namespace %s does not exist (%s)"
                                   % (self.cluster, describe(obj), meta["namespace"], _reason(error)))
            raise self._failure(error, "apply", describe(obj))
        except Exception as error:
            raise self._failure(error, "apply", describe(obj), meta.get("namespace"))

    def delete(self, live):
        """Delete an object we own, only if it is still the very object we listed (uid precondition)."""
        resource = self.resource(live["apiVersion"], live["kind"])
        meta = live["metadata"]
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": meta["uid"]},
                "propagationPolicy": "Background"}
        self.requests["delete"] += 1
        try:
            self.client.client.delete(resource, name=meta["name"], namespace=meta.get("namespace"), body=body)
        except NotFoundError:
            pass
        except Exception as error:
            raise self._failure(error, "delete", describe(live))

    def wait_available(self, deployments, timeout):
        """Wait until every Deployment reports an available replica of its current generation."""
        deadline = time.monotonic() + timeout
        pending = list(deployments)
        while pending:
            still = []
            for obj in pending:
                live = self.get(obj) or {}
                status = live.get("status") or {}
                generation = (live.get("metadata") or {}).get("generation")
                if not (status.get("availableReplicas") and status.get("observedGeneration") == generation):
                    still.append(obj)
            pending = still
            if pending and time.monotonic() > deadline:
                raise ClusterError("cluster %s: %s not Available after %ss" % (
                    self.cluster, ", ".join(describe(o) for o in pending), timeout))
            if pending:
                time.sleep(1)


def read_live(client, desired, kinds, owner_labels):
    """Everything the plan needs, with as few requests as possible: one LIST per kind of the objects we
    own, then a GET only for desired objects we do not own yet (to find foreign objects in the way)."""
    kinds = list(dict.fromkeys(list(kinds) + [(o["apiVersion"], o["kind"]) for o in desired]))
    owned = []
    for api_version, kind in kinds:
        owned.extend(client.list_owned(api_version, kind, owner_labels))
    owned_keys = {object_key(o) for o in owned}
    missing = {}
    for obj in desired:
        if object_key(obj) not in owned_keys:
            group = (obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace"))
            missing.setdefault(group, []).append(obj)
    existing = []
    for (api_version, kind, namespace), objects in missing.items():
        if len(objects) == 1 or not namespace:
            found = [client.get(obj) for obj in objects]
        else:
            # several new objects of one kind in one namespace: one LIST instead of a GET each
            wanted = {o["metadata"]["name"] for o in objects}
            found = [o for o in client.list_namespace(api_version, kind, namespace) if o["metadata"]["name"] in wanted]
        for live in found:
            if live is not None:
                live.setdefault("apiVersion", api_version)
                live.setdefault("kind", kind)
                existing.append(live)
    return owned, existing


def _reason(error):
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and '"message"' in body:
        import json
        try:
            return json.loads(body).get("message", body)
        except ValueError:
            return body
    return getattr(error, "reason", None) or _short(error)


def _short(error):
    text = str(error)
    return text if len(text) < 300 else text[:300] + "..."
