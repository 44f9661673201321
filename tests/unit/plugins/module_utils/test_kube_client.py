# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kube_client's pure parts: availability and error messages."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ssl
import threading

import pytest
import urllib3

from ansible_collections.meshfed.federation.plugins.module_utils.apply.engine import terminating_namespaces
from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import (
    ClusterClient, ClusterError, api_message, is_available, is_unreachable, share_tls_context, unreachable_message)
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.objects import core
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.test_probe import Credentials, Peer


def test_deployment_is_available_only_for_its_current_generation():

    available = {"type": "Available", "status": "True"}
    deployment = {"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "conditions": [available]}}
    assert is_available(deployment)
    assert not is_available(dict(deployment, status={"observedGeneration": 1, "conditions": [available]}))
    assert not is_available(dict(deployment, status={"observedGeneration": 2, "conditions": [
        {"type": "Available", "status": "False"}]}))
    assert not is_available(None)


def test_unreachable_and_api_errors_read_well():

    refused = Exception("HTTPSConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /version "
                        "(Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object>: Failed to "
                        "establish a new connection: [Errno 111] Connection refused'))")
    assert is_unreachable(refused)
    assert unreachable_message("c1", "https://127.0.0.1:1", refused) == (
        "cluster c1: API server at https://127.0.0.1:1 unreachable: [Errno 111] Connection refused")

    class Forbidden(Exception):
        status = 403
        body = b'{"kind":"Status","message":"services is forbidden: User \\"x\\" cannot list"}'

    assert not is_unreachable(Forbidden())
    assert api_message(Forbidden()) == 'services is forbidden: User "x" cannot list'


def test_a_namespace_being_deleted_is_named_as_such_not_as_missing_rights():
    class Terminating(Exception):
        status = 403
        body = (b'{"kind":"Status","message":"secrets \\"c\\" is forbidden: unable to create new content in namespace '
                b'istio-private-gateways because it is being terminated","reason":"Forbidden"}')

    client = ClusterClient.__new__(ClusterClient)
    client.cluster = "cluster2"
    message = str(client._failure(Terminating(), "apply", "Secret c", "istio-private-gateways"))
    assert message.startswith("cluster cluster2: namespace istio-private-gateways is being deleted (Terminating)")
    assert "not allowed" not in message and "kubectl get namespace istio-private-gateways" in message


def test_a_role_stops_before_writing_into_a_namespace_being_deleted():
    desired = [core("Namespace", "gw", namespace=None), core("Secret", "s", namespace="gw"), core("Service", "a")]
    live = [dict(core("Namespace", "gw", namespace=None), metadata={"name": "gw", "deletionTimestamp": "2026-12-02T07:00:00Z"}),
            dict(core("Namespace", "elsewhere", namespace=None),
                 metadata={"name": "elsewhere", "deletionTimestamp": "2026-12-02T07:00:00Z"})]
    assert terminating_namespaces(desired, live) == [("gw", "2026-12-02T07:00:00Z")]
    assert terminating_namespaces(desired, [core("Namespace", "gw", namespace=None)]) == []


def test_a_list_answered_404_asks_discovery_again_and_names_istio_missing():
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

    class Discovery(object):  # the on-disk cache still lists Gateway; the API server no longer serves it
        fresh = False

        def invalidate_cache(self):
            self.fresh = True

    class K8s(object):
        def resource(self, kind, api_version):
            if discovery.fresh:
                raise ResourceNotFoundError("no %s" % kind)
            return object()

    discovery = Discovery()

    class Dynamic(object):
        resources = discovery

        def get(self, resource, **options):
            raise NotFoundError(ApiException(status=404, reason="Not Found"))

    client = ClusterClient.__new__(ClusterClient)
    client.cluster, client.requests, client._resources = "cluster2", {}, {}
    client._count_lock = threading.Lock()
    client.k8s, client.dynamic = K8s(), Dynamic()
    with pytest.raises(ClusterError) as raised:
        client.list_namespace("networking.istio.io/v1", "Gateway", None)
    assert str(raised.value) == "Istio is not installed in cluster cluster2 (networking.istio.io/v1 Gateway not served)"
    assert discovery.fresh


def test_waiting_for_a_deployment_polls_soon_then_once_a_second(monkeypatch):
    available = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "conditions": [
        {"type": "Available", "status": "True"}]}}
    answers = [None] * 5 + [available]
    slept = []

    class Cluster(object):
        cluster = "c1"

        def get(self, deployment):
            return answers.pop(0)

    monkeypatch.setattr("time.sleep", slept.append)
    ClusterClient.wait_available(Cluster(), [core("Deployment", "ingress", "ns")], timeout=60)
    assert slept == [0.25, 0.5, 1.0, 1.0, 1.0] and not answers

    answers[:] = [None] * 3
    monkeypatch.setattr("time.monotonic", iter([0, 0, 0.3, 0.8]).__next__)
    with pytest.raises(ClusterError, match="cluster c1: Deployment ns/ingress not Available after 0.5s"):
        ClusterClient.wait_available(Cluster(), [core("Deployment", "ingress", "ns")], timeout=0.5)


@pytest.fixture(scope="module")
def creds(tmp_path_factory):
    return Credentials(tmp_path_factory.mktemp("client-pki"))


def manager(creds, trust="ca", **settings):
    # the settings the kubernetes client gives urllib3 for a kubeconfig with a CA and a client certificate
    settings.setdefault("server_hostname", "c2.example.com")
    return urllib3.PoolManager(cert_reqs=ssl.CERT_REQUIRED, ca_certs=creds.path(trust + ".crt"),
                               cert_file=creds.path("ca-c1.crt"), key_file=creds.path("ca-c1.key"),
                               retries=False, **settings)


def test_connections_share_one_tls_context_that_still_checks_both_sides(creds):
    shared = manager(creds)
    assert share_tls_context(shared) and not share_tls_context(shared)
    context = shared.connection_pool_kw["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and "ca_certs" not in shared.connection_pool_kw
    for dummy in range(2):  # the server requires our client certificate: each connection presents it
        peer = Peer(creds, then="http 204")
        assert shared.request("GET", "https://127.0.0.1:%d/" % peer.port).status == 204
        peer.thread.join(5)
    assert shared.connection_pool_kw["ssl_context"] is context
    foreign = Peer(creds, leaf="other-ca-c2", then="http 204")
    with pytest.raises(urllib3.exceptions.SSLError, match="certificate verify failed"):
        shared.request("GET", "https://127.0.0.1:%d/" % foreign.port)
    elsewhere = manager(creds, server_hostname="c3.example.com")  # the server's certificate names c2
    share_tls_context(elsewhere)
    peer = Peer(creds, then="http 204")
    with pytest.raises(urllib3.exceptions.SSLError, match="c3.example.com"):
        elsewhere.request("GET", "https://127.0.0.1:%d/" % peer.port)
    untrusting = manager(creds, trust="other-ca")
    share_tls_context(untrusting)
    peer = Peer(creds, then="http 204")
    with pytest.raises(urllib3.exceptions.SSLError, match="certificate verify failed"):
        untrusting.request("GET", "https://127.0.0.1:%d/" % peer.port)


def test_a_proxied_or_own_context_is_left_alone(creds):
    assert not share_tls_context(urllib3.ProxyManager("http://127.0.0.1:3128"))
    own = manager(creds, ssl_context=ssl.create_default_context())
    assert not share_tls_context(own) and own.connection_pool_kw["ca_certs"]
    assert not share_tls_context(None)


def test_listed_objects_keep_their_content_but_not_their_managed_fields():
    from ansible_collections.meshfed.federation.plugins.module_utils.apply.client import _items
    listed = {"items": [{"metadata": {"name": "a", "labels": {"x": "y"}, "managedFields": [{"manager": "meshfed"}]},
                         "spec": {"ports": [1]}}]}
    assert _items(listed, "v1", "Service") == [{"apiVersion": "v1", "kind": "Service",
                                                "metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"ports": [1]}}]
