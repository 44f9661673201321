# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""federation_pki's CA rotation in stages (trust, issue, drop), run as Ansible runs the module."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import stat

import pytest

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki
from ansible_collections.meshfed.federation.plugins.module_utils.module_backends.peering_bundle import split_pem
from ansible_collections.meshfed.federation.plugins.module_utils.pki.directory import credential_paths
from ansible_collections.meshfed.federation.tests.unit.plugins.modules.test_federation_pki import run


def certs(path):
    """The certificates of a PEM file, as their fingerprints."""
    with open(path) as handle:
        return [pki.fingerprint_sha256(pki.load_cert(pem.encode())) for pem in split_pem(handle.read())]


def fingerprint(path):
    return certs(path)[0]


def tree(directory):
    """Every file under ``directory`` with its bytes."""
    found = {}
    for root, dummy, files in os.walk(str(directory)):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, str(directory))] = handle.read()
    return found


def assert_private(directory):
    """Keys 0600 and directories 0700 everywhere under ``directory``."""
    for root, dirs, files in os.walk(str(directory)):
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
        for name in files:
            if name.endswith(".key"):
                assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o600, os.path.join(root, name)


def signed_by(cert_path, ca_path):
    with open(cert_path, "rb") as cert, open(ca_path, "rb") as ca:
        return pki.signed_by(pki.load_cert(cert.read()), pki.load_cert(ca.read()))


@pytest.fixture
def pki_dir(tmp_path):
    run(tmp_path)
    return tmp_path / "pki"


def test_a_rotation_in_three_stages_always_trusts_the_ca_of_every_certificate_in_use(tmp_path, pki_dir):
    old_ca = fingerprint(pki_dir / "ca.crt")
    old_leaf = (pki_dir / "cluster1.crt").read_bytes()

    trust = run(tmp_path, ca_rotation_stage="trust")
    assert trust["changed"] and trust["rotation"]["stage"] == "trust"
    new_ca = fingerprint(pki_dir / "next" / "ca.crt")
    assert new_ca != old_ca
    assert trust["rotation"]["next"]["ca"]["fingerprint_sha256"] == new_ca
    # the gateways keep their certificates and trust both CAs
    assert (pki_dir / "cluster1.crt").read_bytes() == old_leaf
    assert certs(pki_dir / "trusted-cas.pem") == [old_ca, new_ca]
    for cluster in ("cluster1", "cluster2"):
        assert signed_by(pki_dir / "next" / ("%s.crt" % cluster), pki_dir / "next" / "ca.crt")
    assert_private(pki_dir)
    assert not run(tmp_path, ca_rotation_stage="trust")["changed"]
    assert not run(tmp_path)["changed"]  # an ordinary run keeps the stage

    waiting = (pki_dir / "next" / "cluster1.crt").read_bytes()
    issue = run(tmp_path, ca_rotation_stage="issue")
    assert issue["changed"] and issue["rotation"]["stage"] == "issue"
    assert fingerprint(pki_dir / "ca.crt") == new_ca
    assert fingerprint(pki_dir / "previous" / "ca.crt") == old_ca
    assert issue["rotation"]["previous"]["ca"]["fingerprint_sha256"] == old_ca
    assert (pki_dir / "cluster1.crt").read_bytes() == waiting  # the certificates the stage trust made
    assert not (pki_dir / "next").exists()
    assert certs(pki_dir / "trusted-cas.pem") == [new_ca, old_ca]
    assert all(not reasons for reasons in (c["reasons"] for c in issue["clusters"].values()))
    assert_private(pki_dir)
    assert not run(tmp_path, ca_rotation_stage="issue")["changed"]

    dropped = run(tmp_path, ca_rotation_stage="drop")
    assert dropped["changed"] and dropped["rotation"] == {"stage": "none"}
    assert certs(pki_dir / "trusted-cas.pem") == [new_ca]
    assert not (pki_dir / "previous").exists()
    assert sorted(tree(pki_dir)) == ["ca.crt", "ca.key", "cluster1.crt", "cluster1.key", "cluster2.crt",
                                     "cluster2.key", "trusted-cas.pem"]
    assert_private(pki_dir)
    assert not run(tmp_path, ca_rotation_stage="drop")["changed"]


@pytest.mark.parametrize("stage, requested, message", [
    (None, "issue", "no rotation in progress: stage trust"),
    (None, "drop", None),
    ("trust", "drop", "stage issue comes before drop"),
    ("issue", "trust", "finish it with stage drop"),
])
def test_a_stage_out_of_order_fails_and_changes_nothing(tmp_path, pki_dir, stage, requested, message):
    for step in {None: [], "trust": ["trust"], "issue": ["trust", "issue"]}[stage]:
        run(tmp_path, ca_rotation_stage=step)
    before = tree(pki_dir)
    if message is None:  # drop without a rotation: nothing to drop
        assert not run(tmp_path, ca_rotation_stage=requested)["changed"]
    else:
        failed = run(tmp_path, ca_rotation_stage=requested, expect_failure=True)
        assert message in failed["msg"] and str(pki_dir) in failed["msg"], failed["msg"]
        assert "ca_rotation_stage %s" % requested in failed["msg"]
    assert tree(pki_dir) == before


def test_an_interrupted_promotion_is_finished_by_the_next_run(tmp_path, pki_dir):
    run(tmp_path, ca_rotation_stage="trust")
    new_ca = fingerprint(pki_dir / "next" / "ca.crt")
    old_ca = fingerprint(pki_dir / "ca.crt")
    # what stage issue leaves when it stops after keeping the old CA and moving one certificate
    (pki_dir / "previous").mkdir(mode=0o700)
    shutil.copy(str(pki_dir / "ca.crt"), str(pki_dir / "previous" / "ca.crt"))
    os.replace(str(pki_dir / "next" / "cluster1.crt"), str(pki_dir / "cluster1.crt"))
    result = run(tmp_path)
    assert result["rotation"]["stage"] == "issue"
    assert fingerprint(pki_dir / "ca.crt") == new_ca
    assert certs(pki_dir / "trusted-cas.pem") == [new_ca, old_ca]
    for cluster in ("cluster1", "cluster2"):
        assert signed_by(pki_dir / ("%s.crt" % cluster), pki_dir / "ca.crt"), cluster
    assert not (pki_dir / "next").exists()
    assert not run(tmp_path)["changed"]


def test_check_mode_reports_the_stage_and_writes_nothing(tmp_path, pki_dir):
    before = tree(pki_dir)
    result = run(tmp_path, check=True, ca_rotation_stage="trust")
    assert result["changed"] and result["rotation"]["stage"] == "trust"
    assert tree(pki_dir) == before
    run(tmp_path, ca_rotation_stage="trust")
    before = tree(pki_dir)
    result = run(tmp_path, check=True, ca_rotation_stage="issue")
    assert result["changed"] and result["rotation"]["stage"] == "issue"
    assert tree(pki_dir) == before


def test_a_cluster_added_during_the_rotation_gets_a_certificate_of_each_ca(tmp_path, pki_dir):
    run(tmp_path, ca_rotation_stage="trust")
    clusters = [{"name": "cluster1", "identity": "c1.example.com"}, {"name": "cluster2", "identity": "c2.example.com"},
                {"name": "cluster3", "identity": "c3.example.com"}]
    run(tmp_path, clusters=clusters)
    assert signed_by(pki_dir / "cluster3.crt", pki_dir / "ca.crt")
    assert signed_by(pki_dir / "next" / "cluster3.crt", pki_dir / "next" / "ca.crt")


def test_a_ca_per_cluster_rotates_every_cluster_s_ca(tmp_path):
    run(tmp_path, ca_scope="cluster")
    result = run(tmp_path, ca_scope="cluster", ca_rotation_stage="trust")
    assert result["rotation"] == {"stage": "trust"}
    assert sorted(result["rotations"]) == ["cluster1", "cluster2"]
    for cluster in ("cluster1", "cluster2"):
        own = tmp_path / "pki" / cluster
        assert certs(own / "trusted-cas.pem") == [fingerprint(own / "ca.crt"), fingerprint(own / "next" / "ca.crt")]
        assert_private(own)
    paths = credential_paths(str(tmp_path / "pki"), "cluster1", ["cluster1", "cluster2"], "cluster")
    assert paths["party_ca_paths"] == {"cluster2": str(tmp_path / "pki" / "cluster2" / "trusted-cas.pem")}


def test_rotate_ca_and_a_user_supplied_ca_refuse_a_stage(tmp_path, pki_dir):
    failed = run(tmp_path, rotate_ca=True, ca_rotation_stage="trust", expect_failure=True)
    assert "choose one" in failed["msg"]


def test_the_credential_variants_prove_a_stage(tmp_path):
    current = credential_paths("/pki", "cluster1", ["cluster1"], "federation")
    assert current == {"cert_path": "/pki/cluster1.crt", "key_path": "/pki/cluster1.key",
                       "ca_path": "/pki/trusted-cas.pem", "party_ca_paths": {}}
    upcoming = credential_paths("/pki", "cluster1", ["cluster1"], "federation", "next")
    assert upcoming["cert_path"] == "/pki/next/cluster1.crt" and upcoming["ca_path"] == "/pki/trusted-cas.pem"
    issuing = credential_paths("/pki", "cluster1", ["cluster1", "cluster2"], "cluster", "issuing")
    assert issuing["ca_path"] == "/pki/cluster1/ca.crt"
    assert issuing["party_ca_paths"] == {"cluster2": "/pki/cluster2/ca.crt"}
