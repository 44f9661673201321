# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendered objects as files, one per object (what a GitOps tool applies): their names and contents, and one role's
directory made to hold exactly them. Layout: <directory>/<cluster>/<role>/<kind>-<namespace>-<name>.yaml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile
from collections import Counter

try:
    import yaml
except ImportError:  # the modules' requirements name PyYAML; only render_dir needs it
    yaml = None

SECRET_MODE = 0o600
FILE_MODE = 0o644
DIRECTORY_MODE = 0o755


class RenderFilesError(Exception):
    """Objects that cannot be written as files (not objects, or two of them on one path), or a directory that
    cannot be written."""


def file_name(obj):
    meta = obj["metadata"]
    return "%s-%s-%s.yaml" % (obj["kind"].lower(), meta.get("namespace") or "cluster", meta["name"])


def object_files(role, objects):
    """[{name, content, mode, secret}] of one role's objects, sorted by name; a Secret's mode is 0600."""
    if yaml is None:
        raise RenderFilesError("writing files needs PyYAML, which this Python does not have")
    files = []
    for obj in objects or []:
        if not isinstance(obj, dict) or "kind" not in obj or "name" not in (obj.get("metadata") or {}):
            raise RenderFilesError("the %s objects are not Kubernetes objects: %r" % (role, obj))
        secret = obj["kind"] == "Secret"
        files.append({"name": file_name(obj), "secret": secret, "mode": SECRET_MODE if secret else FILE_MODE,
                      "content": "---\n" + yaml.safe_dump(obj, default_flow_style=False, sort_keys=False)})
    duplicates = sorted(name for name, count in Counter(f["name"] for f in files).items() if count > 1)
    if duplicates:
        raise RenderFilesError("two %s objects would be written to %s" % (role, ", ".join(duplicates)))
    return sorted(files, key=lambda f: f["name"])


def _unchanged(path, wanted):
    try:
        with open(path) as existing:
            same = existing.read() == wanted["content"]
        return same and (os.stat(path).st_mode & 0o777) == wanted["mode"]
    except (IOError, OSError):
        return False


def _write(path, wanted):
    """Written whole or not at all (a temporary file renamed), created with its mode: a Secret's file is never
    readable by others, not even for a moment."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".meshfed-")
    try:
        os.fchmod(handle, wanted["mode"])
        with os.fdopen(handle, "w") as out:
            out.write(wanted["content"])
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def sync_role_directory(directory, files, check_mode=False):
    """Make ``directory`` (one role of one cluster) hold exactly ``files`` among its *.yaml files: written where
    missing or different, the other *.yaml files removed (objects the federation no longer renders); other files are
    left alone. Returns {written: [names], removed: [names], unchanged: count}; check mode writes nothing."""
    wanted = dict((f["name"], f) for f in files)
    try:
        present = sorted(n for n in os.listdir(directory) if n.endswith(".yaml")) if os.path.isdir(directory) else []
        written = [name for name in sorted(wanted) if not _unchanged(os.path.join(directory, name), wanted[name])]
        removed = [name for name in present if name not in wanted]
        if not check_mode:
            if not os.path.isdir(directory):
                os.makedirs(directory, DIRECTORY_MODE)
            for name in written:
                _write(os.path.join(directory, name), wanted[name])
            for name in removed:
                os.unlink(os.path.join(directory, name))
    except (IOError, OSError) as error:
        raise RenderFilesError("cannot write %s: %s" % (getattr(error, "filename", None) or directory,
                                                        error.strerror or error))
    return {"written": written, "removed": removed, "unchanged": len(wanted) - len(written)}
