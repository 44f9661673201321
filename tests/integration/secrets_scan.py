# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What no output of ours may hold, and the modes the PKI directory's files must have."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import stat

import yaml


def key_strings(pem):
    """A private key as an output could leak it: base64 of the file (as a Secret holds it), each base64 line."""
    found = {base64.b64encode(pem.encode()).decode()}
    found.update(line for line in pem.splitlines() if len(line) >= 40 and not line.startswith("-----"))
    return found


def secret_strings(lab, pki_dir, federation, clusters, extra_keys=()):
    """Strings no output may hold: every private key under ``pki_dir`` (its rotation's next/ too) and in
    ``extra_keys``, the credentials of the lab's kubeconfig, the data of every Secret of ``federation``."""
    keys = list(extra_keys)
    for root, dummy, files in os.walk(pki_dir):
        for name in files:
            if name.endswith(".key"):
                with open(os.path.join(root, name)) as f:
                    keys.append(f.read())
    found = {"PRIVATE KEY"}
    for pem in keys:
        found.update(key_strings(pem))
    with open(lab.kubeconfig) as f:
        for user in yaml.safe_load(f).get("users") or []:
            found.update(v for k, v in (user.get("user") or {}).items() if k in ("client-key-data", "token"))
    for context in clusters:
        listed = json.loads(lab.kubectl(context, "get", "secrets", "-A", "-l", "meshfed.io/federation=" + federation,
                                        "-o", "json"))
        for secret in listed["items"]:
            found.update(v for v in (secret.get("data") or {}).values() if len(v) >= 40)
    return found


def leaked(text, secrets):
    """The secrets ``text`` holds, shortened."""
    return sorted(s[:12] + "..." for s in secrets if s in text)


def wrong_modes(pki_dir):
    """Files and directories of the PKI directory with another mode than keys 0600, directories 0700."""
    wrong = []
    for root, dummy, files in os.walk(pki_dir):
        if stat.S_IMODE(os.stat(root).st_mode) != 0o700:
            wrong.append((root, oct(stat.S_IMODE(os.stat(root).st_mode))))
        for name in files:
            path = os.path.join(root, name)
            if name.endswith(".key") and stat.S_IMODE(os.stat(path).st_mode) != 0o600:
                wrong.append((path, oct(stat.S_IMODE(os.stat(path).st_mode))))
    return wrong
