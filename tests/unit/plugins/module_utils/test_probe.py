# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Link probes: the classification helpers on their own (no network), then probe_link against a small TLS server
on 127.0.0.1 playing a peer's ingress gateway (OpenSSL on both sides, as with Envoy: TLS 1.3, client
certificates rejected after the client's handshake)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import socket
import ssl
import threading
import time

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.observe import probe
from ansible_collections.meshfed.federation.plugins.module_utils.observe.probe import Target

TIMEOUT = 2.0


# --------------------------------------------------------------------------- pure helpers

@pytest.mark.parametrize("error, detail", [
    (ConnectionRefusedError(111, "Connection refused"), "TCP connection failed: Connection refused"),
    (socket.timeout("timed out"), "no TCP connection within 2s"),
    (socket.gaierror(-2, "Name or service not known"), "cannot resolve the address: Name or service not known"),
    (OSError(113, "No route to host"), "TCP connection failed: No route to host"),
])
def test_a_failed_connection_is_unreachable(error, detail):
    assert probe.connect_failure(error, TIMEOUT) == ("unreachable", detail)


def test_handshake_failures_tell_a_wrong_peer_from_a_refusal_and_a_silent_one():
    wrong = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert probe.handshake_failure(wrong, TIMEOUT)[0] == "peer_certificate_wrong"
    assert probe.handshake_failure(ssl.SSLEOFError(8, "EOF occurred"), TIMEOUT)[0] == "refused"
    assert probe.handshake_failure(ConnectionResetError(104, "Connection reset by peer"), TIMEOUT)[0] == "refused"
    assert probe.handshake_failure(ssl.SSLError(1, "alert handshake failure"), TIMEOUT)[0] == "refused"
    assert probe.handshake_failure(socket.timeout("timed out"), TIMEOUT) == (
        "unreachable", "connected, but no TLS handshake within 2s")


def test_the_short_read_after_a_handshake():
    assert probe.after_handshake(socket.timeout("timed out"))[0] == "ok"
    assert probe.after_handshake(b"2")[0] == "ok"
    assert probe.after_handshake(b"")[0] == "refused"
    assert probe.after_handshake(ssl.SSLError(1, "tlsv13 alert certificate required"))[0] == "refused"
    assert probe.after_handshake(ConnectionResetError(104, "reset"))[0] == "refused"


@pytest.mark.parametrize("data, status", [
    (b"HTTP/1.1 200 OK\r\n", 200), (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0", 404), (b"HTTP/1.0 503\n", 503),
    (b"SSH-2.0-OpenSSH\r\n", None), (b"HTTP/1.1 20", None), (b"", None)])
def test_status_code(data, status):
    assert probe.status_code(data) == status


def test_http_outcomes():
    assert probe.http_outcome("/h", b"HTTP/1.1 204 No Content\r\n", TIMEOUT) == ("ok", "GET /h answered 204", 204)
    assert probe.http_outcome("/h", b"HTTP/1.1 302 Found\r\n", TIMEOUT)[::2] == ("ok", 302)
    assert probe.http_outcome("/h", b"HTTP/1.1 503 Service Unavailable\r\n", TIMEOUT) == (
        "http_error", "GET /h answered 503", 503)
    assert probe.http_outcome("/h", b"garbage\r\n", TIMEOUT)[::2] == ("http_error", None)
    assert probe.http_outcome("/h", socket.timeout("timed out"), TIMEOUT) == (
        "http_error", "no HTTP response to GET /h within 2s", None)
    assert probe.http_outcome("/h", b"", TIMEOUT)[::2] == ("refused", None)
    assert probe.http_outcome("/h", ssl.SSLError(1, "sslv3 alert bad certificate"), TIMEOUT)[::2] == ("refused", None)


def test_certificate_facts_find_the_identity_among_the_dns_names():
    now = time.time()
    not_after = time.strftime("%b %d %H:%M:%S %Y GMT", time.gmtime(now + 10.5 * 86400))
    cert = {"subjectAltName": (("DNS", "other.example.com"), ("URI", "spiffe://x/y"), ("DNS", "c2.example.com")),
            "notAfter": not_after}
    assert probe.certificate_facts(cert, "c2.example.com", now) == ("c2.example.com", 10, True)
    assert probe.certificate_facts(cert, "c3.example.com", now) == ("other.example.com", 10, False)
    assert probe.certificate_facts({}, "c2.example.com", now) == (None, None, False)


def test_expiry_marks_only_a_working_link_as_expiring():
    assert probe.with_expiry("ok", "fine", 13, 14) == ("peer_certificate_expiring",
                                                       "fine; the peer's certificate expires in 13 days")
    assert probe.with_expiry("ok", "fine", 14, 14) == ("ok", "fine")
    assert probe.with_expiry("ok", "fine", None, 14) == ("ok", "fine")
    assert probe.with_expiry("http_error", "GET / answered 500", 1, 14) == (
        "http_error", "GET / answered 500; also the peer's certificate expires in 1 day")
    assert not probe.is_down({"state": "peer_certificate_expiring"})
    assert probe.is_down({"state": "http_error"})


def test_probed_at_is_iso_8601_utc():
    when = datetime.datetime(2026, 12, 1, 10, 0, 5, 123, tzinfo=datetime.timezone.utc)
    assert probe.utc_timestamp(when) == "2026-12-01T10:00:05Z"


# --------------------------------------------------------------------------- against a TLS server on loopback

class Credentials(object):
    """A federation CA with leaves for c1 (the prober) and c2 (the peer), and a foreign CA with its own c1 and c2."""

    def __init__(self, directory):
        self.dir = directory
        for ca in ("ca", "other-ca"):
            key = pki.generate_key()
            cert = pki.build_ca(key, common_name=ca)
            self._write(ca + ".crt", pki.cert_to_pem(cert))
            for identity, name, days in (("c1.example.com", "c1", 365), ("c2.example.com", "c2", 365),
                                         ("c3.example.com", "c3", 365), ("c2.example.com", "c2-expiring", 5)):
                leaf_key = pki.generate_key()
                self._write("%s-%s.key" % (ca, name), pki.key_to_pem(leaf_key))
                self._write("%s-%s.crt" % (ca, name), pki.cert_to_pem(
                    pki.build_leaf(leaf_key, identity, cert, key, validity_days=days)))

    def _write(self, name, data):
        with open(str(self.dir / name), "wb") as f:
            f.write(data)

    def path(self, name):
        return str(self.dir / name)

    def client(self, ca="ca", leaf="ca-c1", trust="ca"):
        return probe.client_context(self.path(leaf + ".crt"), self.path(leaf + ".key"), self.path(trust + ".crt"))


@pytest.fixture(scope="module")
def creds(tmp_path_factory):
    return Credentials(tmp_path_factory.mktemp("probe-pki"))


class Peer(object):
    """One connection's TLS server on 127.0.0.1: presents ``leaf``, requires a client certificate from ``trust``,
    then does ``then``: 'quiet' (holds the connection), 'http <status>' (answers one request), 'speak' (sends a
    banner), 'close'; with ``tls=False`` it accepts and never answers."""

    def __init__(self, creds, leaf="ca-c2", trust="ca", then="quiet", tls=True):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(5)
        self.port = self.listener.getsockname()[1]
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(creds.path(leaf + ".crt"), creds.path(leaf + ".key"))
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(creds.path(trust + ".crt"))
        self.then, self.tls, self.request = then, tls, None
        self.thread = threading.Thread(target=self._serve)
        self.thread.daemon = True
        self.thread.start()

    def _serve(self):
        try:
            conn, dummy = self.listener.accept()
        except OSError:
            return
        conn.settimeout(3)
        try:
            if not self.tls:
                time.sleep(1.5)
                return
            conn = self.context.wrap_socket(conn, server_side=True)
            if self.then.startswith("http"):
                self.request = conn.recv(4096)
                conn.sendall(b"HTTP/1.1 %s X\r\ncontent-length: 0\r\n\r\n" % self.then.split()[1].encode())
            elif self.then == "speak":
                conn.sendall(b"220 ready\r\n")
                time.sleep(0.5)
            elif self.then == "quiet":
                time.sleep(0.6)
        except (OSError, ssl.SSLError):
            pass  # the client's certificate refused: OpenSSL sent the alert
        finally:
            conn.close()
            self.listener.close()

    def target(self, probe_path=None, identity="c2.example.com", caller=None):
        return Target("127.0.0.1", self.port, "details." + identity, identity, probe_path, None, caller)


def run(creds, peer, probe_path=None, context=None, identity="c2.example.com", expiry_days=14, caller=None):
    result = probe.probe_link(peer.target(probe_path, identity, caller), context or creds.client(), TIMEOUT,
                              expiry_days)
    peer.thread.join(5)
    return result


def test_a_quiet_granted_link_is_ok_with_the_handshake_time_and_the_peer_certificate(creds):
    result = run(creds, Peer(creds))
    assert result["state"] == "ok", result
    assert result["handshake_ms"] > 0 and result["http_status"] is None
    assert (result["peer_identity"], result["peer_certificate_days_left"]) == ("c2.example.com", 364)
    assert result["probed_at"].endswith("Z")


def test_a_peer_that_speaks_first_is_ok(creds):
    assert run(creds, Peer(creds, then="speak"))["state"] == "ok"


def test_an_http_probe_sends_one_get_with_the_export_host(creds):
    peer = Peer(creds, then="http 200")
    result = run(creds, peer, probe_path="/details/0")
    assert (result["state"], result["http_status"], result["detail"]) == ("ok", 200, "GET /details/0 answered 200")
    assert peer.request.startswith(b"GET /details/0 HTTP/1.1\r\nHost: details.c2.example.com\r\n"), peer.request


def test_an_http_probe_of_a_grant_with_callers_sends_the_caller_header(creds):
    peer = Peer(creds, then="http 200")
    run(creds, peer, probe_path="/details/0", caller="spiffe://cluster.local/ns/shop/sa/meshfed-link-probe")
    assert b"\r\nx-meshfed-caller: spiffe://cluster.local/ns/shop/sa/meshfed-link-probe\r\n" in peer.request, peer.request
    plain = Peer(creds, then="http 200")
    run(creds, plain, probe_path="/details/0")
    assert b"x-meshfed-caller" not in plain.request


def test_an_http_error_status_keeps_the_status(creds):
    result = run(creds, Peer(creds, then="http 503"), probe_path="/details/0")
    assert (result["state"], result["http_status"]) == ("http_error", 503)


@pytest.mark.parametrize("probe_path", [None, "/details/0"])
def test_our_certificate_not_trusted_by_the_peer_is_refused(creds, probe_path):
    # TLS 1.3: our handshake completes, the peer's rejection arrives on the first read
    result = run(creds, Peer(creds, trust="other-ca", then="http 200"), probe_path=probe_path)
    assert result["state"] == "refused", result
    assert result["handshake_ms"] is not None and result["http_status"] is None


def test_a_peer_closing_right_after_the_handshake_refuses(creds):
    assert run(creds, Peer(creds, then="close"))["state"] == "refused"


def test_a_peer_certificate_from_another_ca_is_wrong(creds):
    result = run(creds, Peer(creds, leaf="other-ca-c2"))
    assert result["state"] == "peer_certificate_wrong", result
    assert "does not verify against the federation's CA" in result["detail"]
    assert result["handshake_ms"] is None


def test_a_peer_certificate_of_the_ca_with_another_identity_is_wrong(creds):
    result = run(creds, Peer(creds, leaf="ca-c3"))
    assert (result["state"], result["peer_identity"]) == ("peer_certificate_wrong", "c3.example.com")
    assert "carries the identity c3.example.com, not the peer's identity c2.example.com" in result["detail"]


def test_an_expiring_peer_certificate_still_works_but_is_reported(creds):
    result = run(creds, Peer(creds, leaf="ca-c2-expiring"))
    assert (result["state"], result["peer_certificate_days_left"]) == ("peer_certificate_expiring", 4)
    assert not probe.is_down(result)
    assert run(creds, Peer(creds, leaf="ca-c2-expiring"), expiry_days=3)["state"] == "ok"


def test_a_closed_port_and_a_silent_one_are_unreachable(creds):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    result = probe.probe_link(Target("127.0.0.1", port, "x.c2.example.com", "c2.example.com", None),
                              creds.client(), TIMEOUT, 14)
    assert (result["state"], result["handshake_ms"]) == ("unreachable", None)
    silent = Peer(creds, tls=False)
    started = time.monotonic()
    result = probe.probe_link(silent.target(), creds.client(), 0.5, 14)
    assert result["state"] == "unreachable" and "no TLS handshake within 0.5s" in result["detail"]
    assert time.monotonic() - started < 1.5


def test_probe_links_keeps_the_order_of_its_targets(creds):
    peers = [Peer(creds, then="http 200"), Peer(creds, then="http 404")]
    results = probe.probe_links([p.target("/x") for p in peers], creds.client(), TIMEOUT, 14)
    assert [r["http_status"] for r in results] == [200, 404]
    assert probe.probe_links([], creds.client(), TIMEOUT, 14) == []
