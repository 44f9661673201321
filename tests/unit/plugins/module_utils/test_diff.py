# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Diffs of a plan: only what we manage, Secret values redacted to a hash of their bytes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible_collections.meshfed.federation.plugins.module_utils.apply.diff import plan_diffs, redact
from ansible_collections.meshfed.federation.tests.unit.plugins.module_utils.objects import NS, applied, plan, secret, vs


def test_secret_values_never_appear_in_diffs_but_their_change_does():
    key = base64.b64encode(b"-----BEGIN PRIVATE KEY-----new").decode()
    old_key = base64.b64encode(b"-----BEGIN PRIVATE KEY-----old").decode()
    desired = secret(type="kubernetes.io/tls", data={"tls.key": key, "tls.crt": "Y2VydA=="})
    live = applied(desired)
    live["data"]["tls.key"] = old_key
    live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = '{"data":{"tls.key":"%s"}}' % old_key
    diffs = plan_diffs(plan([desired], owned=[live]))
    assert len(diffs) == 1
    assert key not in repr(diffs) and old_key not in repr(diffs)
    assert diffs[0]["before"]["data"]["tls.key"].startswith("<redacted sha256:")
    assert diffs[0]["before"]["data"]["tls.key"] != diffs[0]["after"]["data"]["tls.key"]
    assert diffs[0]["before"]["data"]["tls.crt"] == diffs[0]["after"]["data"]["tls.crt"]


def test_redact_hashes_string_data_and_data_of_equal_bytes_alike():
    as_string = redact(secret(stringData={"k": "value"}))
    as_data = redact(secret(data={"k": base64.b64encode(b"value").decode()}))
    assert as_string["stringData"]["k"] == as_data["data"]["k"] != "value"
    assert redact(vs("a"))["spec"] == vs("a")["spec"]  # only Secrets are redacted


def test_diff_shows_only_what_we_manage_and_no_server_noise():
    live = applied(vs("a"))
    desired = vs("a", host="b.example.com")
    diff = plan_diffs(plan([desired], owned=[live]))[0]
    assert diff["before_header"] == diff["after_header"] == "VirtualService %s/a" % NS
    assert diff["before"]["spec"]["hosts"] == ["a.example.com"] and diff["after"]["spec"]["hosts"] == ["b.example.com"]
    assert "status" not in diff["before"] and "uid" not in diff["before"]["metadata"]
    assert "added-by-a-controller" not in diff["before"]["metadata"]["labels"]


def test_diff_of_create_and_delete():
    diffs = plan_diffs(plan([vs("new")], owned=[applied(vs("gone"))]))
    assert [(d["before_header"], bool(d["before"]), bool(d["after"])) for d in diffs] == [
        ("VirtualService %s/new" % NS, False, True), ("VirtualService %s/gone" % NS, True, False)]
