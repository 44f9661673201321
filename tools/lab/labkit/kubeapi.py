# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes API client for the lab's controller (stdlib only): list, watch, patch, create, tokens."""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.parse


class ApiError(Exception):
    def __init__(self, status: int, text: str):
        self.status = status
        super().__init__(f"HTTP {status}: {text[:300]}")


class Api:
    def __init__(self, creds: dict, timeout: float = 30):
        url = urllib.parse.urlsplit(creds["server"])
        self.host, self.port = url.hostname, url.port or 443
        self.context = ssl.create_default_context(cafile=creds["ca"])
        self.context.load_cert_chain(creds["cert"], creds["key"])
        self.timeout = timeout

    def _connection(self, timeout: float | None) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=self.timeout if timeout is None else timeout)

    def request(self, method: str, path: str, body=None, content_type: str = "application/json",
                query: dict | None = None):
        if query:
            path += "?" + urllib.parse.urlencode(query)
        conn = self._connection(None)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": content_type, "Accept": "application/json"})
            resp = conn.getresponse()
            text = resp.read().decode()
        finally:
            conn.close()
        if resp.status >= 300:
            raise ApiError(resp.status, text)
        return json.loads(text) if text else None

    def get(self, path: str, **query):
        return self.request("GET", path, query=query or None)

    def merge_patch(self, path: str, body: dict):
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def apply(self, path: str, body: dict, manager: str = "meshfed-lab"):
        return self.request("PATCH", path, body, content_type="application/apply-patch+yaml",
                            query={"fieldManager": manager, "force": "true"})

    def delete(self, path: str) -> None:
        try:
            self.request("DELETE", path)
        except ApiError as e:
            if e.status != 404:
                raise

    def token(self, namespace: str, service_account: str, audience: str, seconds: int = 86400) -> str:
        """A service account token for ``audience`` (what `kubectl create token --audience` asks for)."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience], "expirationSeconds": seconds}}
        res = self.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token", body)
        return res["status"]["token"]

    def watch(self, path: str, resource_version: str, timeout_seconds: int = 240):
        """Yield watch events ({type, object}) until the server ends the watch."""
        query = {"watch": "1", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                 "timeoutSeconds": str(timeout_seconds)}
        conn = self._connection(timeout_seconds + 30)
        try:
            conn.request("GET", path + "?" + urllib.parse.urlencode(query), headers={"Accept": "application/json"})
            resp = conn.getresponse()
            if resp.status >= 300:
                raise ApiError(resp.status, resp.read().decode())
            while True:
                line = resp.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            conn.close()
