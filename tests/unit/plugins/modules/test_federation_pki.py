# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation_pki module, run as Ansible runs it (a subprocess reading ANSIBLE_MODULE_ARGS)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import subprocess
import sys

import pytest
from cryptography import x509

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(REPO, ".lab", "collections")
MODULE = "ansible_collections.meshfed.federation.plugins.modules.federation_pki"
CLUSTERS = [{"name": "cluster1", "identity": "c1.example.com"}, {"name": "cluster2", "identity": "c2.example.com"}]
FILES = ["ca.crt", "ca.key", "cluster1.crt", "cluster1.key", "cluster2.crt", "cluster2.key", "trusted-cas.pem"]


def run(tmp_path, check=False, diff=False, expect_failure=False, **args):
    params = {"path": str(tmp_path / "pki"), "federation_name": "demo", "clusters": CLUSTERS}
    params.update(args)
    params["_ansible_check_mode"] = check
    params["_ansible_diff"] = diff
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", MODULE, str(args_file)], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=120, check=False)
    assert "PRIVATE KEY" not in proc.stdout
    assert "PRIVATE KEY" not in proc.stderr
    result = json.loads(proc.stdout)
    assert bool(result.get("failed")) == expect_failure, result
    return result


def snapshot(tmp_path):
    directory = tmp_path / "pki"
    return {name: (os.stat(str(directory / name)).st_mtime_ns, (directory / name).read_bytes()) for name in FILES}


def load(tmp_path, name):
    return x509.load_pem_x509_certificate((tmp_path / "pki" / name).read_bytes())


def codes(result, cluster):
    return reason_codes(result["clusters"][cluster]["reasons"])


def test_check_mode_writes_nothing(tmp_path):
    result = run(tmp_path, check=True, diff=True)
    assert result["changed"]
    assert not (tmp_path / "pki").exists()
    assert reason_codes(result["ca"]["reasons"]) == ["missing"]
    assert codes(result, "cluster1") == ["ca_regenerated"]
    assert result["clusters"]["cluster1"]["serial"] is None
    assert result["diff"]["before"]["clusters"]["cluster1"] is None
    after = result["diff"]["after"]["clusters"]["cluster1"]
    assert after["subject"] == "CN=c1.example.com"
    assert after["sans"] == ["DNS:c1.example.com", "URI:spiffe://c1.example.com/meshfed-gateway"]
    assert after["issuer"] == "O=demo,CN=meshfed root CA"


def test_issue_then_keep(tmp_path):
    first = run(tmp_path, diff=True)
    assert first["changed"]
    directory = tmp_path / "pki"
    assert sorted(os.listdir(str(directory))) == FILES
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in FILES:
        mode = stat.S_IMODE((directory / name).stat().st_mode)
        assert mode == (0o600 if name.endswith(".key") else 0o644), name
    ca = load(tmp_path, "ca.crt")
    for cluster in CLUSTERS:
        info = first["clusters"][cluster["name"]]
        cert = load(tmp_path, "%s.crt" % cluster["name"])
        assert pki.signed_by(cert, ca)
        assert info["serial"] == "%X" % cert.serial_number
        assert info["fingerprint_sha256"] == pki.fingerprint_sha256(cert)
        assert info["cert_path"] == str(directory / ("%s.crt" % cluster["name"]))
        assert info["key_path"] == str(directory / ("%s.key" % cluster["name"]))
        assert info["ca_path"] == str(directory / "ca.crt")
        assert info["days_left"] == 365
        assert info["not_after"] == cert.not_valid_after_utc.isoformat()
    assert first["diff"]["after"]["clusters"]["cluster2"]["serial"] == first["clusters"]["cluster2"]["serial"]

    before = snapshot(tmp_path)
    second = run(tmp_path, diff=True)
    assert not second["changed"]
    assert second["ca"]["reasons"] == []
    assert all(c["reasons"] == [] for c in second["clusters"].values())
    assert second["diff"]["before"] == second["diff"]["after"]
    assert snapshot(tmp_path) == before  # contents and mtimes untouched
    assert second["clusters"]["cluster1"]["serial"] == first["clusters"]["cluster1"]["serial"]

    checked = run(tmp_path, check=True)
    assert not checked["changed"]


def test_force_reissues_leaves_only(tmp_path):
    first = run(tmp_path)
    result = run(tmp_path, force=True)
    assert result["changed"]
    assert result["ca"]["reasons"] == []
    assert result["ca"]["fingerprint_sha256"] == first["ca"]["fingerprint_sha256"]
    for name in ("cluster1", "cluster2"):
        assert codes(result, name) == ["force"]
        assert result["clusters"][name]["serial"] != first["clusters"][name]["serial"]


def test_rotate_ca_reissues_everything(tmp_path):
    first = run(tmp_path)
    old_ca = load(tmp_path, "ca.crt")
    result = run(tmp_path, rotate_ca=True, diff=True)
    assert result["changed"]
    assert reason_codes(result["ca"]["reasons"]) == ["force"]
    assert result["ca"]["fingerprint_sha256"] != first["ca"]["fingerprint_sha256"]
    new_ca = load(tmp_path, "ca.crt")
    for name in ("cluster1", "cluster2"):
        assert codes(result, name) == ["ca_regenerated"]
        cert = load(tmp_path, "%s.crt" % name)
        assert pki.signed_by(cert, new_ca) and not pki.signed_by(cert, old_ca)
    assert result["diff"]["before"]["ca"]["serial"] == first["ca"]["serial"]
    assert result["diff"]["after"]["ca"]["serial"] == result["ca"]["serial"]
    assert not run(tmp_path)["changed"]


def test_check_mode_rotate_ca_reports_without_writing(tmp_path):
    run(tmp_path)
    before = snapshot(tmp_path)
    result = run(tmp_path, check=True, rotate_ca=True)
    assert result["changed"]
    assert codes(result, "cluster1") == ["ca_regenerated"]
    assert snapshot(tmp_path) == before


def test_only_the_broken_leaf_is_regenerated(tmp_path):
    run(tmp_path)
    (tmp_path / "pki" / "cluster1.key").write_bytes(pki.key_to_pem(pki.generate_key()))
    before = snapshot(tmp_path)
    result = run(tmp_path)
    assert result["changed"]
    assert codes(result, "cluster1") == ["key_mismatch"]
    assert codes(result, "cluster2") == []
    after = snapshot(tmp_path)
    assert after["cluster2.crt"] == before["cluster2.crt"] and after["ca.crt"] == before["ca.crt"]
    assert after["cluster1.crt"] != before["cluster1.crt"]


def test_identity_and_key_type_changes(tmp_path):
    run(tmp_path)
    clusters = [{"name": "cluster1", "identity": "c1.example.org"}, CLUSTERS[1]]
    result = run(tmp_path, clusters=clusters, key_type="rsa2048")
    assert set(codes(result, "cluster1")) == {"identity", "key_type"}
    assert codes(result, "cluster2") == ["key_type"]
    assert pki.san_strings(load(tmp_path, "cluster1.crt"))[0] == "DNS:c1.example.org"
    assert not run(tmp_path, clusters=clusters, key_type="rsa2048")["changed"]


def test_renewal_window_from_options(tmp_path):
    run(tmp_path, validity_days=20, renewal_days=10)
    result = run(tmp_path, validity_days=20, renewal_days=19)
    assert not result["changed"]
    result = run(tmp_path, validity_days=100, renewal_days=30)
    assert codes(result, "cluster1") == ["renewal"]
    assert result["clusters"]["cluster1"]["days_left"] == 100


def test_key_mode_is_repaired_without_regenerating(tmp_path):
    run(tmp_path)
    key = tmp_path / "pki" / "cluster2.key"
    os.chmod(str(key), 0o644)
    before = snapshot(tmp_path)
    result = run(tmp_path)
    assert result["changed"]
    assert result["permissions_fixed"] == [str(key)]
    assert codes(result, "cluster2") == []
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert snapshot(tmp_path) == before


def test_user_supplied_ca(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    ca_key = pki.generate_key("rsa2048")
    ca_cert = pki.build_ca(ca_key, "Example Corp CA", "Example")
    (user / "ca.crt").write_bytes(pki.cert_to_pem(ca_cert))
    (user / "ca.key").write_bytes(pki.key_to_pem(ca_key))
    ca = {"cert_path": str(user / "ca.crt"), "key_path": str(user / "ca.key")}
    result = run(tmp_path, ca=ca)
    assert result["ca"]["user_supplied"]
    assert result["ca"]["key_path"] == str(user / "ca.key")
    assert (tmp_path / "pki" / "ca.crt").read_bytes() == pki.cert_to_pem(ca_cert)
    assert not (tmp_path / "pki" / "ca.key").exists()
    assert pki.signed_by(load(tmp_path, "cluster1.crt"), ca_cert)
    assert not run(tmp_path, ca=ca)["changed"]
    failed = run(tmp_path, ca=ca, rotate_ca=True, expect_failure=True)
    assert "user-supplied" in failed["msg"]


def test_switching_from_generated_to_user_ca_reissues_leaves(tmp_path):
    run(tmp_path)
    user = tmp_path / "user"
    user.mkdir()
    ca_key = pki.generate_key()
    ca_cert = pki.build_ca(ca_key, "Example Corp CA", "Example")
    (user / "ca.crt").write_bytes(pki.cert_to_pem(ca_cert))
    (user / "ca.key").write_bytes(pki.key_to_pem(ca_key))
    result = run(tmp_path, ca={"cert_path": str(user / "ca.crt"), "key_path": str(user / "ca.key")})
    assert reason_codes(result["ca"]["reasons"]) == ["user_ca"]
    assert codes(result, "cluster1") == ["issuer"]
    assert pki.signed_by(load(tmp_path, "cluster2.crt"), ca_cert)


def test_user_ca_that_is_not_a_ca_is_refused(tmp_path):
    ca_key = pki.generate_key()
    ca_cert = pki.build_ca(ca_key)
    leaf_key = pki.generate_key()
    leaf = pki.build_leaf(leaf_key, "c9.example.com", ca_cert, ca_key)
    (tmp_path / "leaf.crt").write_bytes(pki.cert_to_pem(leaf))
    (tmp_path / "leaf.key").write_bytes(pki.key_to_pem(leaf_key))
    result = run(tmp_path, expect_failure=True,
                 ca={"cert_path": str(tmp_path / "leaf.crt"), "key_path": str(tmp_path / "leaf.key")})
    assert "not a CA" in result["msg"]
    assert not (tmp_path / "pki" / "cluster1.crt").exists()


@pytest.mark.parametrize("args, message", [
    ({"renewal_days": 365}, "renewal_days (365)"),
    ({"ca": {"validity_days": 10, "renewal_days": 90}}, "ca.renewal_days"),
    ({"clusters": [{"name": "ca", "identity": "c1.example.com"}]}, "not 'ca'"),
    ({"clusters": [{"name": "../x", "identity": "c1.example.com"}]}, "name must be"),
    ({"clusters": CLUSTERS + [CLUSTERS[0]]}, "duplicate cluster name"),
    ({"clusters": [{"name": "cluster1", "identity": "C1_example"}]}, "not a lowercase DNS name"),
])
def test_invalid_parameters(tmp_path, args, message):
    result = run(tmp_path, expect_failure=True, **args)
    assert message in result["msg"]
    assert not (tmp_path / "pki").exists()


def reason_codes(reasons):
    return [r.split(":", 1)[0] for r in reasons]
