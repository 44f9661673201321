# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Link probes: from where this runs, do what a consumer's egress gateway does to reach one export of a peer.

Connect to the peer's private ingress gateway, handshake with the consumer's certificate and the export's SNI,
verify the peer's certificate against the federation's CA and its identity, then, for an http export with a
``probe_path``, send one ``GET``; otherwise listen briefly for a refusal (TLS 1.3 servers reject a client
certificate after the client's side of the handshake is done). Nothing is written anywhere but that one request.

The classification helpers are pure (exceptions, certificate fields and bytes in, a state out); ``probe_link``
is the only function that opens a socket (stdlib ``socket`` and ``ssl``), ``probe_links`` runs several at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import socket
import ssl
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.meshfed.federation.plugins.module_utils.model.names import CALLER_HEADER
from ansible_collections.meshfed.federation.plugins.module_utils.pki.certificates import whole_days

OK = "ok"
UNREACHABLE = "unreachable"
REFUSED = "refused"
PEER_CERTIFICATE_WRONG = "peer_certificate_wrong"
PEER_CERTIFICATE_EXPIRING = "peer_certificate_expiring"
HTTP_ERROR = "http_error"
# the exporter drained the consumer's grant (state: drained): refused on purpose, not probed, not down
DRAINED = "drained"
# A link in one of these states carries traffic; every other state but DRAINED counts as down.
UP_STATES = (OK, PEER_CERTIFICATE_EXPIRING)

# How long to listen after the handshake for a refusal of our certificate (an alert or a reset arrives within a
# round trip; a tcp or tls service that speaks second says nothing).
QUIET_READ_SECONDS = 0.3
# Links probed at once.
CONCURRENCY = 8
STATUS_LINE_LIMIT = 8192

# What a peer closing (or resetting) the connection raises, alert or not.
CLOSED = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)

# One link to probe: where (address, port), as whom it must answer (sni, peer_identity), and how (probe_path: the
# path of one GET on an http export, or None for a handshake and a short read).
# trust: the peer party whose CA the peer's certificate is checked against (None: this party's own CA); caller: the
# caller header the GET sends, for a grant that names callers (names.probe_caller), else None
Target = namedtuple("Target", "address port sni peer_identity probe_path trust caller")
Target.__new__.__defaults__ = (None, None)


def client_context(cert_path, key_path, ca_path, cadata=None):
    """The TLS client of every probe: this cluster's certificate, the federation's CA as the only trust anchor.
    Host name checking is off because the peer's identity is checked after the handshake (a certificate of the CA
    with another identity is reported as such, not as an untrusted one)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    if cadata is not None:
        context.load_verify_locations(cadata=cadata)  # a peer party's CAs, from its bundle
    else:
        context.load_verify_locations(cafile=ca_path)
    context.load_cert_chain(cert_path, key_path)
    return context


def _reason(error):
    """The short words of an ssl or socket error: the OpenSSL reason (e.g. TLSV13_ALERT_CERTIFICATE_REQUIRED) or
    the system's message."""
    reason = getattr(error, "reason", None)
    if reason:
        return str(reason)
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _is_timeout(error):
    return isinstance(error, (socket.timeout, TimeoutError))


def connect_failure(error, timeout):
    """(state, detail) when the TCP connection could not be made."""
    if _is_timeout(error):
        return UNREACHABLE, "no TCP connection within %gs" % timeout
    if isinstance(error, socket.gaierror):
        return UNREACHABLE, "cannot resolve the address: %s" % _reason(error)
    return UNREACHABLE, "TCP connection failed: %s" % _reason(error)


def handshake_failure(error, timeout):
    """(state, detail) when the TLS handshake raised ``error``."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return PEER_CERTIFICATE_WRONG, ("the peer's certificate does not verify against the federation's CA: %s"
                                        % (getattr(error, "verify_message", None) or _reason(error)))
    if _is_timeout(error):
        return UNREACHABLE, "connected, but no TLS handshake within %gs" % timeout
    if isinstance(error, CLOSED):
        return REFUSED, ("the peer closed the connection during the handshake (%s): no server for this SNI there "
                         "(the export not applied?), or this cluster's certificate is not accepted" % _reason(error))
    if isinstance(error, ssl.SSLError):
        return REFUSED, "the peer refused the handshake: %s" % _reason(error)
    return UNREACHABLE, "the handshake failed: %s" % _reason(error)


def after_handshake(outcome):
    """(state, detail) of the short read after a handshake on a link without an HTTP request: ``outcome`` is the
    bytes read (b"" when the peer closed) or the exception the read raised."""
    if isinstance(outcome, bytes):
        if outcome:
            return OK, "handshake done; the peer's service spoke first"
        return REFUSED, ("the peer closed the connection right after the handshake: our certificate is not granted "
                         "this export, or its service is down")
    if _is_timeout(outcome):
        return OK, "handshake done; no refusal within %gs" % QUIET_READ_SECONDS
    return refusal_after_handshake(outcome)


def refusal_after_handshake(error):
    """(state, detail) for an alert or a reset received once our side of the handshake was done (TLS 1.3 sends
    the rejection of a client certificate then)."""
    why = "this cluster is not granted the export, or its certificate is not from a CA the peer trusts"
    if isinstance(error, CLOSED) or not isinstance(error, ssl.SSLError):
        return REFUSED, "the peer closed the connection after the handshake, without an answer: %s" % why
    return REFUSED, "the peer refused our certificate after the handshake (%s): %s" % (_reason(error), why)


def status_code(data):
    """The status of an HTTP/1.x response starting with ``data``, or None when it is not one."""
    line = data.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = line.split(None, 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() and len(parts[1]) == 3:
        return int(parts[1])
    return None


def http_outcome(path, data, timeout):
    """(state, detail, http status) of the answer to ``GET path``: ``data`` is what came back before the status
    line was complete, the peer closed or the read failed, or the exception raised before any byte came."""
    if not isinstance(data, bytes):
        if _is_timeout(data):
            return HTTP_ERROR, "no HTTP response to GET %s within %gs" % (path, timeout), None
        state, detail = refusal_after_handshake(data)
        return state, detail, None
    if not data:
        return REFUSED, ("the peer closed the connection without answering GET %s: our certificate is not granted "
                         "this export" % path), None
    status = status_code(data)
    if status is None:
        return HTTP_ERROR, "GET %s: not an HTTP response: %r" % (path, data[:60]), None
    if 200 <= status < 400:
        return OK, "GET %s answered %d" % (path, status), status
    return HTTP_ERROR, "GET %s answered %d" % (path, status), status


def certificate_facts(peer_certificate, identity, now):
    """(peer identity, days left, whether it is ``identity``) of the peer's certificate as ``SSLSocket.getpeercert()``
    returns it: the DNS SAN equal to ``identity`` when there is one, else the first DNS SAN (or None)."""
    names = [value for kind, value in peer_certificate.get("subjectAltName", ()) if kind == "DNS"]
    days_left = None
    if peer_certificate.get("notAfter"):
        days_left = whole_days(ssl.cert_time_to_seconds(peer_certificate["notAfter"]) - now)
    if identity in names:
        return identity, days_left, True
    return (names[0] if names else None), days_left, False


def identity_problem(peer_identity, identity):
    """(state, detail) when the peer's certificate, though from the federation's CA, is not the peer's."""
    return PEER_CERTIFICATE_WRONG, ("the peer's certificate is from the federation's CA but carries %s, not the "
                                    "peer's identity %s" % ("the identity " + peer_identity if peer_identity
                                                            else "no DNS identity", identity))


def with_expiry(state, detail, days_left, expiry_days):
    """A link that works but whose peer certificate has fewer than ``expiry_days`` days left is expiring."""
    if days_left is None or days_left >= expiry_days:
        return state, detail
    note = "the peer's certificate expires in %d day%s" % (days_left, "" if days_left == 1 else "s")
    if state == OK:
        return PEER_CERTIFICATE_EXPIRING, "%s; %s" % (detail, note)
    return state, "%s; also %s" % (detail, note)


def utc_timestamp(when=None):
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_status_line(tls, deadline):
    """Bytes of the response until its status line is complete, the peer closes or ``deadline`` passes; the
    exception instead when nothing came."""
    data = b""
    try:
        while b"\n" not in data and len(data) < STATUS_LINE_LIMIT:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("timed out")
            tls.settimeout(remaining)
            chunk = tls.recv(STATUS_LINE_LIMIT)
            if not chunk:
                break
            data += chunk
    except (OSError, ssl.SSLError) as error:
        if not data:
            return error
    return data


def _request(target):
    caller = "%s: %s\r\n" % (CALLER_HEADER, target.caller) if target.caller else ""
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: meshfed-link-probe\r\nAccept: */*\r\n%sConnection: close\r\n\r\n"
            % (target.probe_path, target.sni, caller)).encode("ascii")


def _talk(tls, target, timeout):
    """(state, detail, http status) of what follows a verified handshake."""
    if target.probe_path is None:
        tls.settimeout(QUIET_READ_SECONDS)
        try:
            outcome = tls.recv(1)
        except (OSError, ssl.SSLError) as error:
            outcome = error
        state, detail = after_handshake(outcome)
        return state, detail, None
    deadline = time.monotonic() + timeout
    try:
        tls.settimeout(timeout)
        tls.sendall(_request(target))
    except (OSError, ssl.SSLError) as error:
        # a refusal that came before the request went out; the read below would only see the closed socket
        return http_outcome(target.probe_path, error, timeout)
    return http_outcome(target.probe_path, _read_status_line(tls, deadline), timeout)


def probe_link(target, context, timeout, expiry_days, connect=socket.create_connection):
    """Probe one link; returns the link's probe fields (state, handshake_ms, http_status, peer_identity,
    peer_certificate_days_left, detail, probed_at). Each of connect, handshake and request is bounded by
    ``timeout`` seconds. ``connect(address, timeout)`` makes the TCP connection (a test may pass its own)."""
    result = {"handshake_ms": None, "http_status": None, "peer_identity": None, "peer_certificate_days_left": None,
              "probed_at": utc_timestamp()}
    try:
        raw = connect((target.address, target.port), timeout)
    except (OSError, ValueError) as error:
        result["state"], result["detail"] = connect_failure(error, timeout)
        return result
    try:
        raw.settimeout(timeout)
        started = time.monotonic()
        try:
            tls = context.wrap_socket(raw, server_hostname=target.sni, do_handshake_on_connect=False)
            raw = tls
            tls.do_handshake()
        except (OSError, ssl.SSLError, ValueError) as error:
            result["state"], result["detail"] = handshake_failure(error, timeout)
            return result
        result["handshake_ms"] = round((time.monotonic() - started) * 1000.0, 2)
        identity, days_left, matches = certificate_facts(tls.getpeercert(), target.peer_identity, time.time())
        result["peer_identity"], result["peer_certificate_days_left"] = identity, days_left
        if not matches:
            result["state"], result["detail"] = identity_problem(identity, target.peer_identity)
            return result
        state, detail, result["http_status"] = _talk(tls, target, timeout)
        result["state"], result["detail"] = with_expiry(state, detail, days_left, expiry_days)
        return result
    finally:
        raw.close()


def probe_links(targets, context, timeout, expiry_days, connect=socket.create_connection):
    """``probe_link`` of every target, up to CONCURRENCY at once; the results in the targets' order. ``context``
    is the SSLContext, or a function of a target giving its SSLContext."""
    if not targets:
        return []
    context_of = context if callable(context) else (lambda target: context)
    with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(targets))) as pool:
        return list(pool.map(lambda t: probe_link(t, context_of(t), timeout, expiry_days, connect), targets))


def is_down(link):
    return link["state"] not in UP_STATES and link["state"] != DRAINED
