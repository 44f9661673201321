# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sample apps' servers: what a lab pod with a sidecar runs behind it (pod annotation lab.meshfed.io/app).

    http  answers every request with JSON: the pod, its namespace and version, the method, path, authority,
          HTTP version and the headers a test checks (x-forwarded-client-cert, x-forwarded-proto)
    tcp   for each line received, sends back "<pod> <line>"
    tls   the same inside TLS (a certificate made at start for the pod)
    grpc  a unary method /lab.Echo/Say answering "<pod> <request bytes>" (grpcio)

Run as ``lab.py app KIND --listen 127.0.0.1:PORT --pod NAME --namespace NS --version V``.
"""

from __future__ import annotations

import datetime
import json
import socketserver
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ("http", "tcp", "tls", "grpc")
ANNOTATION = "lab.meshfed.io/app"


def identity(pod: str, namespace: str, version: str) -> dict:
    return {"pod": pod, "namespace": namespace, "version": version}


def http_server(listen: tuple[str, int], who: dict) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            data = dict(who, method=self.command, path=self.path, authority=self.headers.get("host"),
                        protocol=self.request_version, body_bytes=len(body),
                        headers={k.lower(): v for k, v in self.headers.items()
                                 if k.lower().startswith("x-") or k.lower() in ("host", "user-agent")})
            out = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer

        def log_message(self, *args) -> None:  # quiet
            pass

    return ThreadingHTTPServer(listen, Handler)


class _LineEcho(socketserver.StreamRequestHandler):
    prefix = b""

    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(self.prefix + b" " + line)
            self.wfile.flush()


def tcp_server(listen: tuple[str, int], who: dict, tls_context: ssl.SSLContext | None = None):
    handler = type("Echo", (_LineEcho,), {"prefix": who["pod"].encode()})

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

        def get_request(self):
            conn, addr = super().get_request()
            if tls_context is not None:
                conn = tls_context.wrap_socket(conn, server_side=True)
            return conn, addr

        def handle_error(self, request, client_address) -> None:  # a refused handshake is not news
            pass

    return Server(listen, handler)


def self_signed_context(pod: str, namespace: str) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{pod}.{namespace}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"{pod}.{namespace}")]), critical=False)
            .sign(key, hashes.SHA256()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as pem:
        pem.write(cert.public_bytes(serialization.Encoding.PEM))
        pem.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
        pem.flush()
        ctx.load_cert_chain(pem.name)
    return ctx


def grpc_server(listen: tuple[str, int], who: dict):
    import grpc
    from concurrent import futures

    prefix = who["pod"].encode() + b" "

    def say(request: bytes, context) -> bytes:
        return prefix + request

    handler = grpc.method_handlers_generic_handler("lab.Echo", {
        "Say": grpc.unary_unary_rpc_method_handler(say, request_deserializer=None, response_serializer=None)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
    server.add_insecure_port(f"{listen[0]}:{listen[1]}")
    return server


def serve(kind: str, listen: tuple[str, int], pod: str, namespace: str, version: str) -> None:
    who = identity(pod, namespace, version)
    if kind == "grpc":
        server = grpc_server(listen, who)
        server.start()
        server.wait_for_termination()
        return
    if kind == "http":
        server = http_server(listen, who)
    else:
        server = tcp_server(listen, who, self_signed_context(pod, namespace) if kind == "tls" else None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()
