# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clients on the lab's real mesh (tools/lab: istiod per cluster, Envoy gateways and sidecars, one network
namespace per cluster): find a pod's proxy, send requests from beside its sidecar, read Envoy's admin.

Every loop here is bounded in count and time; every address is inside the lab's network namespaces."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools", "lab"))

from labkit import envoy_admin, faults, netns, procs  # noqa: E402  pylint: disable=wrong-import-position
from labkit.request import http_request  # noqa: E402  pylint: disable=wrong-import-position
from labkit.state import Lab as LabDir  # noqa: E402  pylint: disable=wrong-import-position

TIMEOUT = 5.0


def sample_app(namespace, name, app="http", port=8080, service_port_name=None):
    """A lab sample app as YAML: a Deployment whose pod the lab gives ``app``'s server (tools/lab/labkit/apps.py)
    and a sidecar, and, with ``service_port_name``, its Service. The namespace is labelled for injection."""
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"istio-injection": "enabled"}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
         "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
             "metadata": {"labels": {"app": name}, "annotations": {"lab.meshfed.io/app": app}},
             "spec": {"containers": [{"name": "app", "image": "lab/" + app, "ports": [{"containerPort": port}]}]}}}},
    ]
    if service_port_name:
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
                     "spec": {"selector": {"app": name}, "ports": [{"name": service_port_name, "port": port}]}})
    return "\n---\n".join(json.dumps(d) for d in docs)


class Mesh(object):
    """The mesh of a running lab (``lab`` is the conftest fixture)."""

    def __init__(self, lab):
        self.lab = lab
        self.state = lab.state.get("mesh") or {}

    def workloads(self, cluster):
        return LabDir(self.lab.dir).workloads(cluster)

    def find(self, cluster, namespace, prefix):
        """The proxy of the first pod of ``namespace`` whose name starts with ``prefix``, or None."""
        for w in self.workloads(cluster):
            if w["namespace"] == namespace and w["pod"].startswith(prefix):
                return w
        return None

    def wait_ready(self, cluster, namespace, prefix, timeout=120):
        """The proxy of that pod once its Envoy is live and holds its certificate."""
        deadline = time.time() + timeout
        while True:
            w = self.find(cluster, namespace, prefix)
            if w and envoy_admin.ready(w["netns"], w["admin_port"]):
                try:
                    if any(s["certificate"] for s in envoy_admin.active_secrets(w["netns"], w["admin_port"])):
                        return w
                except (OSError, ValueError):
                    pass
            if time.time() > deadline:
                raise AssertionError("%s: no ready proxy for %s/%s* after %ds: %s" % (
                    cluster, namespace, prefix, timeout, self.workloads(cluster)))
            time.sleep(0.5)

    def netns(self, cluster):
        return self.state["clusters"][cluster]["netns"]

    def rejected_updates(self, w):
        return envoy_admin.rejected_updates(w["netns"], w["admin_port"])

    def live(self, w):
        """The proxy's Envoy answers its admin's /ready with LIVE."""
        return envoy_admin.ready(w["netns"], w["admin_port"])

    def replicas(self, cluster, namespace, prefix):
        """How many pods of ``namespace`` whose name starts with ``prefix`` have a live proxy: a gateway's replicas,
        each with buckets of its own."""
        return sum(1 for w in self.workloads(cluster)
                   if w["namespace"] == namespace and w["pod"].startswith(prefix) and self.live(w))

    def stats(self, w, pattern):
        """The proxy's counters and gauges whose name matches ``pattern`` (a regex)."""
        return envoy_admin.stats(w["netns"], w["admin_port"], pattern)

    def admin(self, w, path):
        return envoy_admin.get(w["netns"], w["admin_port"], path)

    def fault(self, fault, cluster, pod):
        """A context manager: the pod fault ``fault`` of `lab fault` (tools/lab/labkit/faults.py) on the pods
        ``namespace/pod-name-prefix`` of ``cluster`` for the block (it yields their workloads), undone after it
        whatever happens."""
        return faults.holding(LabDir(self.lab.dir), fault, cluster, pod)

    def listening(self, ns, port, wildcard=False):
        """The pids of the processes listening on TCP ``port`` in network namespace ``ns``; ``wildcard``: on every
        address of it (what takes a connection to any address there, a ClusterIP's too), not on one address (the
        sidecars' outbound listeners bind their own 127.1.x.y for every Service port of the mesh)."""
        return [s["pid"] for s in procs.listening(netns=ns) if s["port"] == port
                and (not wildcard or s["addr"] in ("0.0.0.0", "*", "[::]"))]


def three_cluster_mesh(lab):
    """The lab's Mesh for a test on its three clusters: the test fails when the lab runs without its mesh, and is
    skipped on a lab of fewer clusters."""
    mesh = Mesh(lab)
    if not mesh.state:
        pytest.fail("the lab runs without its mesh; run tools/lab/lab up 3", pytrace=False)
    if len(lab.contexts) < 3:
        pytest.skip("needs the lab's three clusters (tools/lab/lab up 3)")
    return mesh


def via_sidecar(w, host, port, path="/", method="GET", headers=None, timeout=TIMEOUT):
    """A request sent by a client beside the pod's sidecar, to its outbound listener for ``port``."""
    return http_request(w["netns"], w["bind"], port, host, path, method, headers, timeout)


def via_sidecar_headers(w, host, port, path="/", timeout=TIMEOUT):
    """(status, response headers in lower case) of one GET sent beside the pod's sidecar, as ``via_sidecar``;
    (None, {"error": ...}) when no answer came."""
    conn = http.client.HTTPConnection(w["bind"], port, timeout=timeout)
    try:
        conn.sock = netns.connect(w["netns"], (w["bind"], port), timeout)
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        resp.read()
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders())
    except (OSError, http.client.HTTPException) as error:
        return None, {"error": repr(error)}
    finally:
        conn.close()


def burst(w, host, port, count, results):
    """``count`` GETs one after the other, as fast as they go (each bounded by TIMEOUT), beside the pod's sidecar:
    their (status, headers) as ``results["answers"]`` and the seconds they took as ``results["seconds"]``."""
    start = time.monotonic()
    results["answers"] = [via_sidecar_headers(w, host, port, "/burst/%d" % i) for i in range(count)]
    results["seconds"] = time.monotonic() - start


def bursts_at_once(count, *targets):
    """``burst`` of each (w, host, port) in a thread of its own, started together: the results in their order."""
    results = [{} for dummy in targets]
    threads = [threading.Thread(target=burst, args=(w, host, port, count, result))
               for (w, host, port), result in zip(targets, results)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(count * TIMEOUT + 10)
    return results


def quota_verdict(results, quota, replicas=1):
    """What a burst under a quota of ``quota`` a second on each of ``replicas`` ingress gateway replicas (each Envoy
    has its own bucket) must show, as a list of problems (empty: as it should): only 200 and 429; at least ``quota``
    200s (a bucket starts full) and at most quota x replicas x (2 + whole seconds the burst took) (each bucket
    refills ``quota`` at each second boundary the burst crosses); on every 429 the limit's headers."""
    statuses = collections.Counter(s for s, dummy in results["answers"])
    most = quota * replicas * (2 + int(results["seconds"]))
    problems = []
    if not set(statuses) <= {200, 429}:
        problems.append("statuses %s, not 200 and 429" % dict(statuses))
    if not quota <= statuses[200] <= most:
        problems.append("%d answers 200 in %.2f s, not %d to %d" % (statuses[200], results["seconds"], quota, most))
    for status, headers in results["answers"]:
        if status == 429 and not (headers.get("x-ratelimit-limit", "").split(",")[0].strip() == str(quota)
                                  and headers.get("retry-after") == "1" and "x-ratelimit-remaining" in headers
                                  and "x-ratelimit-reset" in headers):
            problems.append("a 429 without the limit's headers: %s" % headers)
            break
    return problems


def quota_in_force(results, quota, replicas=1):
    """``quota_verdict``'s problems, and one more when no request of the burst was refused: what proves a quota
    is in force (a burst within the bound of several replicas' buckets may be all 200 and prove nothing)."""
    problems = quota_verdict(results, quota, replicas)
    if not any(s == 429 for s, dummy in results["answers"]):
        problems.append("no 429 in %d requests" % len(results["answers"]))
    return problems


def until(fn, timeout=90, interval=0.5):
    """Call ``fn`` until it returns a true value (exceptions count as false) or ``timeout`` passes; the last
    value (or exception) is returned (raised)."""
    deadline = time.time() + timeout
    while True:
        try:
            value = fn()
            if value:
                return value
        except (OSError, AssertionError, ssl.SSLError, http.client.HTTPException):
            if time.time() > deadline:
                raise
        else:
            if time.time() > deadline:
                return value
        time.sleep(interval)


def tcp_exchange(ns, address, port, payload, tls_sni=None, timeout=TIMEOUT):
    """Send ``payload`` (one line) over TCP (or TLS with SNI ``tls_sni``, unverified: the echo server's
    certificate is its own) from inside ``ns``; returns the line that comes back."""
    raw = netns.connect(ns, (address, port), timeout)
    sock = raw
    if tls_sni:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(raw, server_hostname=tls_sni)
    try:
        sock.sendall(payload.rstrip(b"\n") + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        sock.close()


def mutual_tls_handshake(ns, address, port, sni, cert_file, key_file, ca_file, timeout=TIMEOUT):
    """A TLS handshake from inside ``ns`` with a client certificate; returns the server's certificate (DER)
    or raises ssl.SSLError / OSError when refused."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca_file)
    ctx.load_cert_chain(cert_file, key_file)
    raw = netns.connect(ns, (address, port), timeout)
    with ctx.wrap_socket(raw, server_hostname=sni) as tls:
        # TLS 1.3: a refused client certificate shows on the first read, not in the handshake
        tls.sendall(b"GET / HTTP/1.1\r\nHost: " + sni.encode() + b"\r\nConnection: close\r\n\r\n")
        first = tls.recv(1)
        if not first:
            raise ssl.SSLError("connection closed by the server after the handshake")
        return tls.getpeercert(binary_form=True)


def forged(tmp_path, ca_dir, identity):
    """A certificate for ``identity`` minted by the CA in ``ca_dir``, as its key and certificate files."""
    with open(os.path.join(ca_dir, "ca.crt"), "rb") as f:
        ca_cert = pki.load_cert(f.read())
    with open(os.path.join(ca_dir, "ca.key"), "rb") as f:
        ca_key = pki.load_key(f.read())
    key = pki.generate_key()
    cert_path, key_path = str(tmp_path / ("forged-%s.crt" % identity)), str(tmp_path / ("forged-%s.key" % identity))
    with open(cert_path, "wb") as f:
        f.write(pki.cert_to_pem(pki.build_leaf(key, identity, ca_cert, ca_key)))
    with open(key_path, "wb") as f:
        f.write(pki.key_to_pem(key))
    return cert_path, key_path


GRPC_CLIENT = r"""
import json, sys, grpc
target, authority, payload, count = sys.argv[1], sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
channel = grpc.insecure_channel(target, options=[("grpc.default_authority", authority)])
say = channel.unary_unary("/lab.Echo/Say", request_serializer=None, response_deserializer=None)
out = []
for i in range(count):
    try:
        out.append({"ok": True, "reply": say(payload, timeout=5).decode()})
    except grpc.RpcError as e:
        out.append({"ok": False, "code": str(e.code()), "details": e.details()})
print(json.dumps(out))
"""


def grpc_calls(ns, address, port, authority, payload, count=5):
    """``count`` unary gRPC calls (HTTP/2) from inside ``ns`` (grpcio's own threads make its sockets, so the
    client runs under `ip netns exec`)."""
    done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", GRPC_CLIENT, "%s:%d" % (address, port),
                           authority, payload, str(count)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def handshake_per_request(lab, cluster, namespace="istio-private-gateways"):
    """Have ``cluster``'s sidecars open a new connection to the egress gateway for every request, and the egress
    gateway a new one to the peer's ingress gateway for every request of an http import (an HTTP hop, which pools
    its connections to the peer; a tcp or tls binding tunnels each connection on one of its own): every request of
    a load loop is then a new mutual TLS handshake between the two gateways, and sees any moment they do not trust
    each other. Left as the apps send them, long-lived connections carry every request and no rotation shows.
    federate.yml sets the rules back."""
    one_request(lab, cluster, namespace, "meshfed-egress-gateway", port_level=True)
    rules = json.loads(lab.kubectl(cluster, "get", "destinationrule", "-n", namespace, "-o", "json"))["items"]
    for name in sorted(r["metadata"]["name"] for r in rules if r["metadata"]["name"].startswith("meshfed-peer-")):
        one_request(lab, cluster, namespace, name)


def one_request(lab, cluster, namespace, name, port_level=False):
    """maxRequestsPerConnection 1 in the http connection pool of every subset of DestinationRule ``name`` that has
    one (http bindings and exports), in the subset's policy or, ``port_level``, its first port's."""
    rule = json.loads(lab.kubectl(cluster, "get", "destinationrule", "-n", namespace, name, "-o", "json"))
    patch = []
    for index, subset in enumerate(rule["spec"].get("subsets") or ()):
        policy, path = subset.get("trafficPolicy") or {}, "/spec/subsets/%d/trafficPolicy" % index
        if port_level:
            policy, path = (policy.get("portLevelSettings") or [{}])[0], path + "/portLevelSettings/0"
        if "http" in (policy.get("connectionPool") or {}):
            patch.append({"op": "add", "value": 1, "path": path + "/connectionPool/http/maxRequestsPerConnection"})
    if patch:
        lab.kubectl(cluster, "patch", "destinationrule", "-n", namespace, name, "--type=json", "-p", json.dumps(patch))


class LoadLoop(object):
    """Requests from beside a sidecar at ``rate`` per second in a thread, until stopped, ``max_count`` requests or
    ``max_seconds``: what the mesh serves while something changes. ``statuses`` counts the answers (an exception
    by its type), ``failures`` keeps the first failed ones, ``answers`` every one as (seconds since the start,
    status, the answering pod or None), ``started`` the time.time() of the start."""

    def __init__(self, w, host, port, path, rate=20, max_count=12000, max_seconds=900):
        self.w, self.host, self.port, self.path = w, host, port, path
        self.interval, self.max_count, self.max_seconds = 1.0 / rate, max_count, max_seconds
        self.statuses = collections.Counter()
        self.failures = []
        self.answers = []
        self.started = None
        self.seconds = 0.0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def run(self):
        started = self.started = time.time()
        for i in range(self.max_count):
            if self.stopped.is_set() or time.time() - started > self.max_seconds:
                break
            sent = time.time()
            try:
                status, body = via_sidecar(self.w, self.host, self.port, "%s%d" % (self.path, i))
            except (OSError, http.client.HTTPException) as error:
                status, body = type(error).__name__, str(error)
            self.statuses[status] += 1
            self.answers.append((round(sent - started, 2), status, body.get("pod") if isinstance(body, dict) else None))
            if status != 200 and len(self.failures) < 20:
                self.failures.append((round(sent - started, 2), status, str(body)[:200]))
            self.stopped.wait(max(0.0, self.interval - (time.time() - sent)))
        self.seconds = time.time() - started

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=30)
        return self.statuses


def record_load(lab, what, loads):
    """What load loops (one or a list) counted, in the lab directory's rotation-load.json (docs/reliability.md
    reports them)."""
    path = os.path.join(lab.dir, "rotation-load.json")
    counts = {}
    if os.path.exists(path):
        with open(path) as f:
            counts = json.load(f)
    counts[what] = [{"statuses": dict((str(k), v) for k, v in load.statuses.items()), "seconds": round(load.seconds, 1)}
                    for load in (loads if isinstance(loads, list) else [loads])]
    with open(path, "w") as f:
        json.dump(counts, f, indent=2)


class Stall(object):
    """A slow control plane: the process ``pid`` (a cluster's istiod) stopped for ``stopped`` seconds, running for
    ``running``, again and again until the block ends or ``max_seconds`` pass; always left running. The proxies it
    serves get every change late, by up to ``stopped`` seconds."""

    def __init__(self, pid, stopped=5.0, running=1.0, max_seconds=600):
        self.pid, self.stopped, self.running, self.max_seconds = pid, stopped, running, max_seconds
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        started = time.time()
        try:
            while not self.done.is_set() and time.time() - started < self.max_seconds:
                os.kill(self.pid, signal.SIGSTOP)
                self.done.wait(self.stopped)
                os.kill(self.pid, signal.SIGCONT)
                self.done.wait(self.running)
        finally:
            os.kill(self.pid, signal.SIGCONT)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.done.set()
        self.thread.join(timeout=30)
        os.kill(self.pid, signal.SIGCONT)
