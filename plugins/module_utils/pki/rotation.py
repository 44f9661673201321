# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A CA rotation in stages that never break a link, as files of one PKI directory.

* ``trust``: a new CA and its gateway certificates wait in ``next/``; the gateways trust both CAs
  (``trusted-cas.pem``) and still present the old CA's certificates.
* ``issue``: the new CA and its certificates take the old ones' places; the old CA certificate is kept in
  ``previous/ca.crt`` and still trusted, for the gateways that have not got their new certificate yet.
* ``drop``: ``previous/`` goes; the gateways trust the new CA only.

The stage is what the directory holds, so a rotation interrupted at any point resumes from there: ``previous/``
present means ``issue`` (with files still in ``next/`` the promotion is finished first), else ``next/`` present
means ``trust``, else there is no rotation in progress."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki

STAGES = ("trust", "issue", "drop")
NEXT_DIR = "next"
PREVIOUS_DIR = "previous"
TRUSTED_CAS = "trusted-cas.pem"


class RotationError(Exception):
    pass


def next_dir(path):
    return os.path.join(path, NEXT_DIR)


def previous_ca_path(path):
    return os.path.join(path, PREVIOUS_DIR, "ca.crt")


def trusted_cas_path(path):
    return os.path.join(path, TRUSTED_CAS)


def stage_of(path):
    """The stage the directory ``path`` is in: None, "trust" or "issue"."""
    if os.path.isdir(os.path.join(path, PREVIOUS_DIR)):
        return "issue"
    if os.path.isdir(next_dir(path)):
        return "trust"
    return None


def transition(stage, requested):
    """What a run asking for ``requested`` (None: keep the stage) does in a directory in ``stage``: None (nothing
    but keeping that stage's files), "begin" (make the next CA), "promote" or "drop"; RotationError when the
    request skips a stage, which would break links."""
    if requested is None:
        return None
    if requested == "trust":
        if stage == "issue":
            raise RotationError("the rotation is at stage issue (the new CA issues the certificates); finish it with "
                                "stage drop before a new one begins")
        return "begin" if stage is None else None
    if requested == "issue":
        if stage is None:
            raise RotationError("no rotation in progress: stage trust (every gateway trusts the new CA) comes first")
        return "promote" if stage == "trust" else None
    if stage == "trust":
        raise RotationError("stage issue comes before drop: the gateways still present the old CA's certificates, "
                            "which dropping the old CA would refuse")
    return "drop" if stage == "issue" else None


def stage_after(stage, action):
    return {"begin": "trust", "promote": "issue", "drop": None}.get(action, stage) if action else stage


def promote(path):
    """The files of ``next/`` take their places in ``path``, the old CA certificate kept in ``previous/``. Each step
    can be repeated: a promotion interrupted anywhere is finished by calling this again."""
    previous = previous_ca_path(path)
    waiting = next_dir(path)
    if not os.path.exists(previous):
        current = pki.read_bytes(os.path.join(path, "ca.crt"))
        if current is None:
            raise RotationError("%s/ca.crt is missing: cannot keep the old CA trusted while the new one takes over"
                                % path)
        pki.ensure_dir(os.path.dirname(previous))
        pki.write_atomic(previous, current, pki.CERT_MODE)
    if os.path.isdir(waiting):
        for name in os.listdir(waiting):
            if not name.startswith("."):
                os.replace(os.path.join(waiting, name), os.path.join(path, name))
        for name in os.listdir(waiting):  # temp files of an interrupted write
            os.unlink(os.path.join(waiting, name))
        os.rmdir(waiting)


def drop(path):
    previous = previous_ca_path(path)
    if os.path.exists(previous):
        os.unlink(previous)
    os.rmdir(os.path.dirname(previous))


def trusted_cas(path, stage):
    """The PEM the gateways trust for the CA of ``path`` in ``stage``: the CA, with the next or the previous one
    during a rotation."""
    pems = [pki.read_bytes(os.path.join(path, "ca.crt"))]
    if stage == "trust":
        pems.append(pki.read_bytes(os.path.join(next_dir(path), "ca.crt")))
    elif stage == "issue":
        pems.append(pki.read_bytes(previous_ca_path(path)))
    return b"".join(pem if pem.endswith(b"\n") else pem + b"\n" for pem in pems if pem)
