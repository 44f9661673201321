# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes API side of apply: connect with kubernetes.core's auth options (kubeconfig, context,
K8S_AUTH_* environment), read what the plan needs with few requests, write with server-side apply, delete
with a uid precondition. Every failure becomes a ClusterError whose message names the cluster.

Requests are counted per verb (``list``, ``get``, ``apply``, ``delete``). Discovery is not counted:
kubernetes.core serves it from its on-disk cache (``k8srcp-*.json`` in the temp directory) and only asks the
server when the cache is missing or lacks a kind. Objects are created with server-side apply as well (counted
as ``apply``), so meshfed owns their fields as an applier from the start and a field it later stops setting is
removed. Objects are written as given: the plan stamped them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.meshfed.federation.plugins.module_utils.kube.labels import selector_string
from ansible_collections.meshfed.federation.plugins.module_utils.kube.objects import api_group, describe

try:
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError
    HAS_KUBERNETES_LIBRARY = True
except ImportError:
    HAS_KUBERNETES_LIBRARY = False
try:
    from urllib3.util.ssl_ import create_urllib3_context
except ImportError:
    create_urllib3_context = None
try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    HAS_KUBERNETES_CORE = True
except ImportError:
    HAS_KUBERNETES_CORE = False
HAS_KUBERNETES = HAS_KUBERNETES_LIBRARY and HAS_KUBERNETES_CORE


def kubernetes_missing():
    """Why this controller cannot reach a cluster (the message to fail with), or None."""
    if not HAS_KUBERNETES_LIBRARY:
        return missing_required_lib("kubernetes")
    if not HAS_KUBERNETES_CORE:
        return KUBERNETES_CORE_MISSING
    return None


KUBERNETES_CORE_MISSING = ("meshfed.federation needs the kubernetes.core collection (>= 3.0.0) on the controller to "
                           "reach a cluster: ansible-galaxy collection install kubernetes.core")
FIELD_MANAGER = "meshfed"
ISTIO_GROUP_SUFFIX = ".istio.io"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
VERBS = ("list", "get", "apply", "delete")

# urllib3's words for a server that does not answer, and the socket error it met
UNREACHABLE = re.compile(r"Max retries exceeded|Failed to establish a new connection|Connection refused|"
                         r"timed out|Name or service not known|No route to host|Connection reset")
SOCKET_ERROR = re.compile(r"(\[Errno -?\d+\][^'\")]*|timed out|Connection refused)")


def plain_json(dummy_client, data):
    """The DynamicClient's serializer for a response as the dict JSON decoding gave: wrapping a LIST of hundreds
    of objects in ResourceInstance, only to turn it back into dicts, costs more CPU than the request."""
    return data


class ClusterError(Exception):
    """A failure talking to one cluster, with a message that names it."""


def _short(error, limit=300):
    text = str(error)
    return text if len(text) < limit else text[:limit] + "..."


def api_message(error):
    """The API server's own message from an error response (its Status object), else the HTTP reason."""
    body = getattr(error, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body).get("message") or body
        except (ValueError, AttributeError):
            return body
    return getattr(error, "reason", None) or _short(error)


def is_unreachable(error):
    return getattr(error, "status", None) is None and bool(UNREACHABLE.search(str(error)))


def unreachable_message(cluster, host, error):
    found = SOCKET_ERROR.search(str(error))
    reason = found.group(1).strip() if found else _short(error)
    return "cluster %s: API server at %s unreachable: %s" % (cluster, host, reason)


TERMINATING = re.compile(r"because it is being terminated")


def terminating_message(cluster, namespace, detail):
    return ("cluster %s: namespace %s is being deleted (Terminating), so nothing can be created in it (%s). Run again "
            "once it is gone; if it stays, see what holds it: kubectl get namespace %s -o jsonpath='{.status.conditions}'"
            % (cluster, namespace, detail, namespace))


def named(obj):
    return "%s %s" % (obj["kind"], obj["metadata"]["name"])


def scope(namespace):
    return "in %s" % namespace if namespace else "in all namespaces"


class ClusterClient(object):
    """One cluster's API through kubernetes.core's DynamicClient, counting the requests it sends."""

    def __init__(self, cluster, auth):
        self.cluster = cluster
        self.requests = dict((verb, 0) for verb in VERBS)
        self._count_lock = threading.Lock()
        self._resources = {}
        self.host = auth.get("host") or "(from kubeconfig)"
        try:
            k8s_client = get_api_client(**auth)
        except Exception as error:  # kubernetes.core wraps config errors; discovery may fail here too
            host = _host_in(error) or self.host
            if is_unreachable(error):
                raise ClusterError(unreachable_message(cluster, host, error))
            if getattr(error, "status", None) in (401, 403):
                raise ClusterError("cluster %s: not allowed to read API discovery at %s (%s): %s"
                                   % (cluster, host, error.status, api_message(error)))
            raise ClusterError("cluster %s: cannot connect with its kubeconfig/context/auth options: %s"
                               % (cluster, _short(error)))
        self.k8s = k8s_client
        self.dynamic = k8s_client.client
        self.host = k8s_client.configuration.host
        share_tls_context(getattr(getattr(self.dynamic.client, "rest_client", None), "pool_manager", None))

    # --- discovery ---

    def resource(self, api_version, kind):
        key = (api_version, kind)
        if key not in self._resources:
            try:
                self._resources[key] = self.k8s.resource(kind, api_version)
            except ResourceNotFoundError:
                raise ClusterError(self._not_served(api_version, kind))
            except Exception as error:
                raise self._failure(error, "discover", kind, None)
        return self._resources[key]

    def _not_served(self, api_version, kind):
        if api_group(api_version).endswith(ISTIO_GROUP_SUFFIX):
            return "Istio is not installed in cluster %s (%s %s not served)" % (self.cluster, api_version, kind)
        return ("cluster %s: %s %s is not served; its CustomResourceDefinition is not installed"
                % (self.cluster, api_version, kind))

    def _failure(self, error, verb, what, namespace):
        if isinstance(error, ClusterError):
            return error
        status = getattr(error, "status", None)
        if status == 403 and TERMINATING.search(api_message(error)):
            return ClusterError(terminating_message(self.cluster, namespace, api_message(error)))
        if status in (401, 403):
            return ClusterError("cluster %s: not allowed to %s %s %s (%s): %s"
                                % (self.cluster, verb, what, scope(namespace), status, api_message(error)))
        if status == 409 and verb == "apply":
            # only creates apply without forcing: the object appeared after the plan read the cluster
            return ClusterError("cluster %s: %s %s appeared while meshfed was applying and another field manager "
                                "sets its fields (409): %s; run again to see it reported as a conflict"
                                % (self.cluster, what, scope(namespace), api_message(error)))
        if status is not None:
            return ClusterError("cluster %s: %s %s %s failed (%s): %s"
                                % (self.cluster, verb, what, scope(namespace), status, api_message(error)))
        if is_unreachable(error):
            return ClusterError(unreachable_message(self.cluster, self.host, error))
        return ClusterError("cluster %s: %s %s %s failed: %s" % (self.cluster, verb, what, scope(namespace),
                                                                 _short(error)))

    def _served_after_all(self, api_version, kind):
        """Discovery again, past the on-disk cache: a LIST answered 404 means the cache (keyed by the API server's
        address) may describe an earlier cluster there, or kinds removed since, e.g. Istio uninstalled."""
        self._resources.pop((api_version, kind), None)
        try:
            self.dynamic.resources.invalidate_cache()
            self.resource(api_version, kind)
        except ClusterError:
            return False
        return True

    def _call(self, verb, what, namespace, request, missing_ok=False, conflict_ok=False, listed=None):
        """Send one request, counted; None for a 404 when ``missing_ok`` (a 409 when ``conflict_ok``), else
        ClusterError on failure. ``listed`` is the (apiVersion, kind) of a LIST, whose 404 is checked against
        fresh discovery."""
        with self._count_lock:
            self.requests[verb] = self.requests.get(verb, 0) + 1
        try:
            return request()
        except NotFoundError as error:
            if missing_ok:
                return None
            if listed and not self._served_after_all(*listed):
                raise ClusterError(self._not_served(*listed))
            raise self._failure(error, verb, what, namespace)
        except Exception as error:
            if conflict_ok and getattr(error, "status", None) == 409:
                return None
            raise self._failure(error, verb, what, namespace)

    def map_concurrently(self, send, items, concurrency):
        """[send(item) for item in items], ``concurrency`` requests at a time; the first ClusterError (in item
        order) is raised once every request has been answered."""
        if len(items) <= 1 or concurrency <= 1:
            return [send(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(concurrency, len(items))) as pool:
            futures = [pool.submit(send, item) for item in items]
        for future in futures:
            if future.exception() is not None:
                raise future.exception()
        return [future.result() for future in futures]

    # --- reads ---

    def list_owned(self, api_version, kind, labels):
        """Every object of one kind, in all namespaces, carrying ``labels``: one request."""
        resource = self.resource(api_version, kind)
        result = self._call("list", kind, None, lambda: self.dynamic.get(
            resource, label_selector=selector_string(labels), serializer=plain_json), listed=(api_version, kind))
        return _items(result, api_version, kind)

    def list_metadata(self, api_version, kind, namespace=None):
        """Names and labels of every object of one kind in one namespace, without their content."""
        resource = self.resource(api_version, kind)
        path = resource.path(namespace=namespace)
        result = self._call("list", kind, namespace, lambda: self.dynamic.request(
            "get", path, header_params={"Accept": METADATA_ONLY}, serializer=plain_json), listed=(api_version, kind))
        return _items(result, api_version, kind)

    def list_namespace(self, api_version, kind, namespace):
        """Every object of one kind in one namespace, with its content."""
        resource = self.resource(api_version, kind)
        result = self._call("list", kind, namespace, lambda: self.dynamic.get(
            resource, namespace=namespace, serializer=plain_json), listed=(api_version, kind))
        return _items(result, api_version, kind)

    def get(self, obj):
        """The live object with the identity of ``obj``, or None."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        live = self._call("get", named(obj), meta.get("namespace"), lambda: self.dynamic.get(
            resource, name=meta["name"], namespace=meta.get("namespace"), serializer=plain_json), missing_ok=True)
        return None if live is None else _as_dict(live, obj["apiVersion"], obj["kind"])

    # --- writes ---

    def apply(self, obj, force_conflicts=False):
        """Server-side apply (creates the object if absent). ``force_conflicts`` takes over fields other field
        managers set; without it such a field fails the request with 409 naming the manager."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        result = self._call("apply", named(obj), meta.get("namespace"), lambda: self.dynamic.server_side_apply(
            resource, body=obj, name=meta["name"], namespace=meta.get("namespace"),
            field_manager=FIELD_MANAGER, force_conflicts=True if force_conflicts else None, serializer=plain_json))
        return _as_dict(result, obj["apiVersion"], obj["kind"])

    def delete(self, live, unchanged=False):
        """Delete an object we listed, only if it is still that very object (uid precondition); with ``unchanged``,
        only if it is also as we read it (resourceVersion), and one changed meanwhile is left as it is. Already gone
        (404) is what we wanted."""
        resource = self.resource(live["apiVersion"], live["kind"])
        meta = live["metadata"]
        preconditions = {"uid": meta["uid"]}
        if unchanged:
            preconditions["resourceVersion"] = meta["resourceVersion"]
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions,
                "propagationPolicy": "Background"}
        self._call("delete", named(live), meta.get("namespace"), lambda: self.dynamic.delete(
            resource, name=meta["name"], namespace=meta.get("namespace"), body=body, serializer=plain_json),
            missing_ok=True, conflict_ok=unchanged)

    # --- optimistic writes (the federation lock): a 409 means someone wrote first, and returns None ---

    def create(self, obj):
        """Create ``obj``; None when it exists already."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        result = self._call("create", named(obj), meta.get("namespace"), lambda: self.dynamic.create(
            resource, body=obj, namespace=meta.get("namespace"), serializer=plain_json), conflict_ok=True)
        return None if result is None else _as_dict(result, obj["apiVersion"], obj["kind"])

    def replace(self, obj):
        """Replace the object with ``obj``, whose resourceVersion is the one read; None when it changed since."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        result = self._call("update", named(obj), meta.get("namespace"), lambda: self.dynamic.replace(
            resource, body=obj, name=meta["name"], namespace=meta.get("namespace"), serializer=plain_json),
            missing_ok=True, conflict_ok=True)
        return None if result is None else _as_dict(result, obj["apiVersion"], obj["kind"])

    def wait_available(self, deployments, timeout, interval=1.0, first_interval=0.25):
        """Wait until every Deployment's current generation is Available; ClusterError naming the laggards. Polls
        after ``first_interval`` seconds, doubling up to ``interval``: a Deployment that is ready within a second
        (a rollout with nothing to pull) costs a fraction of it."""
        deadline = time.monotonic() + timeout
        pending = list(deployments)
        delay = first_interval
        while pending:
            pending = [d for d in pending if not is_available(self.get(d))]
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise ClusterError("cluster %s: %s not Available after %ss" % (
                    self.cluster, ", ".join(describe(d) for d in pending), timeout))
            time.sleep(delay)
            delay = min(interval, delay * 2)


# the TLS settings urllib3 turns into a new SSLContext for every connection (about 15 ms of CPU each: a run opens
# a hundred connections or more); in one context made once they cost nothing after the first
TLS_FILES = ("ca_certs", "ca_cert_data", "cert_file", "key_file")


def share_tls_context(pool_manager):
    """Give the kubernetes client's connections one SSLContext with its CA and client certificate, instead of one
    each; True when done. Left as it is: a pool manager behind a proxy or with its own context, or a urllib3 that
    does not take one."""
    settings = getattr(pool_manager, "connection_pool_kw", None)
    if (create_urllib3_context is None or not isinstance(settings, dict) or settings.get("ssl_context") is not None
            or getattr(pool_manager, "proxy", None) is not None):
        return False
    context = create_urllib3_context(cert_reqs=settings.get("cert_reqs"))
    if settings.get("ca_certs") or settings.get("ca_cert_data"):
        context.load_verify_locations(cafile=settings.get("ca_certs"), cadata=settings.get("ca_cert_data"))
    elif context.verify_mode != ssl.CERT_NONE:
        context.load_default_certs()
    if settings.get("cert_file"):
        context.load_cert_chain(settings["cert_file"], settings.get("key_file"))
    for name in TLS_FILES:
        settings.pop(name, None)
    settings["ssl_context"] = context
    pool_manager.clear()  # the pools discovery opened were made with the old settings
    return True


def is_available(deployment):
    if not deployment:
        return False
    status = deployment.get("status") or {}
    if (status.get("observedGeneration") or 0) < (deployment["metadata"].get("generation") or 0):
        return False
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in status.get("conditions") or [])


def _as_dict(obj, api_version, kind):
    obj.setdefault("apiVersion", api_version)
    obj.setdefault("kind", kind)
    return obj


def _items(result, api_version, kind):
    """List items as dicts with apiVersion and kind (a LIST leaves them out of each item), without their
    managedFields: nothing reads them, and for objects written with server-side apply they are about as big as the
    rest of the object (a no-op at K = 1000 holds some 5,000 objects of one cluster at once)."""
    items = result.get("items") or []
    for item in items:
        # metadata-only items say PartialObjectMetadata; we want the kind they describe
        item["apiVersion"], item["kind"] = api_version, kind
        (item.get("metadata") or {}).pop("managedFields", None)
    return items


def _host_in(error):
    found = re.search(r"host='([^']+)', port=(\d+)", str(error))
    return "https://%s:%s" % found.groups() if found else None
