# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects as plain dicts: their identity, how users read their names, and their stored form.

An object's identity is (API group, kind, namespace, name): the API version does not matter, the same
object is served under every version of its group."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import copy


def api_group(api_version):
    """The group of an apiVersion ('' for the core group)."""
    return api_version.split("/")[0] if "/" in api_version else ""


def object_key(obj):
    meta = obj["metadata"]
    return (api_group(obj["apiVersion"]), obj["kind"], meta.get("namespace") or "", meta["name"])


def describe(obj):
    """'Kind namespace/name' (or 'Kind name' for cluster-scoped objects), as users read it in results."""
    meta = obj["metadata"]
    if meta.get("namespace"):
        return "%s %s/%s" % (obj["kind"], meta["namespace"], meta["name"])
    return "%s %s" % (obj["kind"], meta["name"])


def has_labels(obj, labels):
    present = (obj.get("metadata") or {}).get("labels") or {}
    return all(present.get(k) == v for k, v in labels.items())


# --- Secret values: compared and hashed as bytes, whatever their encoding ---

def decoded(value):
    """The bytes a Secret ``data`` value stands for; a value that is not base64 stays as it is."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return value


def _canonical_base64(value):
    raw = decoded(value)
    return base64.b64encode(raw).decode("ascii") if isinstance(raw, bytes) else value


def normalise(obj):
    """The object as the API server stores it, for comparing: a Secret's ``stringData`` folded into ``data``,
    every ``data`` value in canonical base64 (so equal bytes compare equal however they were encoded)."""
    if obj is None or obj.get("kind") != "Secret" or not (obj.get("data") or obj.get("stringData")):
        return obj
    secret = copy.deepcopy(obj)
    data = {k: _canonical_base64(v) for k, v in (secret.get("data") or {}).items()}
    for key, text in (secret.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    secret["data"] = data
    return secret
