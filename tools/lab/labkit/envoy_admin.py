# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Envoy's admin interface of a lab proxy, reached inside its cluster's network namespace."""

from __future__ import annotations

import http.client
import json
import urllib.parse

from labkit import netns


def get(ns: str, port: int, path: str, timeout: float = 5.0, method: str = "GET") -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.sock = netns.connect(ns, ("127.0.0.1", port), timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.read().decode(errors="replace")
    finally:
        conn.close()


def stats(ns: str, port: int, pattern: str) -> dict[str, int]:
    """Counters and gauges whose name matches ``pattern`` (Envoy's /stats?filter= regex)."""
    out = {}
    for line in get(ns, port, "/stats?filter=" + urllib.parse.quote(pattern, safe="")).splitlines():
        name, sep, value = line.partition(": ")
        if sep and value.strip().isdigit():
            out[name.strip()] = int(value)
    return out


def stop_listening(ns: str, port: int) -> None:
    """Envoy closes its listeners at once (connections it holds go on, and drain): what a load balancer does to a
    terminating pod, which gets no new connection from then on."""
    get(ns, port, "/drain_listeners", method="POST")


def rejected_updates(ns: str, port: int) -> int:
    return sum(stats(ns, port, "update_rejected").values())


def active_secrets(ns: str, port: int) -> list[dict]:
    """[{name, cert_chain_present, validation_present}] of the dynamic secrets Envoy holds (SDS)."""
    dump = json.loads(get(ns, port, "/config_dump?resource=dynamic_active_secrets"))
    res = []
    for item in dump.get("configs", []):
        secret = item.get("secret") or {}
        tls = secret.get("tls_certificate") or {}
        res.append({"name": item.get("name") or secret.get("name"),
                    "certificate": bool(tls.get("certificate_chain")),
                    "validation": bool(secret.get("validation_context"))})
    return res


def ready(ns: str, port: int) -> bool:
    try:
        return get(ns, port, "/ready", timeout=2).strip() == "LIVE"
    except OSError:
        return False
