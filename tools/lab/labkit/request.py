# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`lab request`: HTTP requests sent from beside a pod's sidecar (to its outbound listener, as the app would),
with a tally of who answered: what the demo shows and a quick check by hand."""

from __future__ import annotations

import collections
import http.client
import json
import urllib.parse

from labkit import netns
from labkit.common import LabError
from labkit.state import Lab


def find_sidecar(lab: Lab, cluster: str, pod: str) -> dict:
    """The proxy of ``namespace/pod-name-prefix`` in ``cluster`` (workloads.json)."""
    namespace, dummy, prefix = pod.partition("/")
    workloads = lab.workloads(cluster)
    for w in workloads:
        if w["namespace"] == namespace and w["pod"].startswith(prefix) and w["kind"] == "sidecar":
            return w
    raise LabError(f"{cluster}: no pod {namespace}/{prefix}* with a sidecar (is the lab up with its mesh?); have: "
                   f"{', '.join(w['namespace'] + '/' + w['pod'] for w in workloads) or 'none'}")


def http_request(ns: str, address: str, port: int, host: str, path: str = "/", method: str = "GET",
                 headers: dict | None = None, timeout: float = 5.0) -> tuple[int, dict | str]:
    """One HTTP/1.1 request from inside network namespace ``ns``: (status, the JSON body parsed, or its text)."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    conn.sock = netns.connect(ns, (address, port), timeout)
    try:
        conn.request(method, path, headers=dict({"Host": host}, **(headers or {})))
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
    finally:
        conn.close()
    try:
        return resp.status, json.loads(body)
    except ValueError:
        return resp.status, body


def send(w: dict, url: str, method: str = "GET") -> tuple[int, dict | str]:
    """A request to ``url`` from beside the sidecar of ``w``, to its outbound listener for the URL's port."""
    parts = urllib.parse.urlsplit(url)
    return http_request(w["netns"], w["bind"], parts.port or 80, parts.hostname, parts.path or "/", method)


def cmd_request(lab: Lab, cluster: str, pod: str, url: str, count: int, method: str) -> int:
    w = find_sidecar(lab, cluster, pod)
    tally: collections.Counter = collections.Counter()
    for dummy in range(max(1, min(count, 10000))):
        try:
            status, body = send(w, url, method)
        except OSError as e:
            tally[f"error: {e}"] += 1
            continue
        if isinstance(body, dict):
            tally[f"{status} from {body.get('namespace')}/{body.get('pod')} (version {body.get('version') or '-'}, "
                  f"path {body.get('path')}, authority {body.get('authority')})"] += 1
        else:
            tally[f"{status} {body.strip()[:80]}"] += 1
    print(f"{method} {url} x{sum(tally.values())} from beside {cluster} {w['namespace']}/{w['pod']}'s sidecar:")
    for line, n in tally.most_common():
        print(f"  {n:5d}  {line}")
    return 0
