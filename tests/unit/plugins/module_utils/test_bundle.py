# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peering bundles with real keys: sign and verify (ECDSA and RSA), every refusal by the field it names, the
fingerprint forms a pin may be written in, and the plan lines of changes()."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import hashlib
import json

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from ansible_collections.meshfed.federation.plugins.module_utils.peering import envelope as bundle
from ansible_collections.meshfed.federation.plugins.module_utils.peering.changes import changes
from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 10, 3, 0, 0, tzinfo=UTC)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def make_ca(key_type="ecdsa-p256"):
    key = pki.generate_key(key_type)
    cert = pki.build_ca(key, organization="org-b", now=NOW - DAY)
    return pki.cert_to_pem(cert), pki.key_to_pem(key), cert, key


@pytest.fixture(scope="module")
def ca():
    return make_ca()


@pytest.fixture(scope="module")
def rsa_ca():
    return make_ca("rsa2048")


@pytest.fixture(scope="module")
def other_ca():
    return make_ca()


def body(ca_pem, issued_at=NOW - HOUR, expires_at=NOW + 30 * DAY, **changes):
    value = {
        "issuer": "org-b",
        "recipient": "org-a",
        "issued_at": bundle.format_time(issued_at),
        "expires_at": bundle.format_time(expires_at),
        "cas": [ca_pem.decode("ascii")],
        "clusters": [{
            "name": "cluster2",
            "identity": "c2.example.com",
            "gateway_address": {"address": "172.31.2.100", "port": 15443},
            "consumer": True,
            "exports": [{
                "name": "reviews-v2", "protocol": "http", "host": "reviews-v2.org-a.c2.example.com", "port": 15443,
                "path_prefix": "/", "consumers": [{"cluster": "cluster1", "methods": ["GET"], "paths": ["/reviews/*"]}],
            }],
        }],
    }
    value.update(changes)
    return value


def signed(ca, **changes):
    return bundle.sign(body(ca[0], **changes), ca[0], ca[1])


def refused(document, pinned, **kwargs):
    with pytest.raises(bundle.BundleError) as info:
        bundle.verify(document, pinned=pinned, now=kwargs.pop("now", NOW), **kwargs)
    return info.value


def der_fingerprint(cert):
    return "sha256:" + hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


# --------------------------------------------------------------------------- sign and verify


@pytest.mark.parametrize("ca_fixture, algorithm", [("ca", "ECDSA-SHA256"), ("rsa_ca", "RSA-PKCS1v15-SHA256")])
def test_sign_verify_round_trip(request, ca_fixture, algorithm):
    signer = request.getfixturevalue(ca_fixture)
    document = signed(signer)
    assert document["apiVersion"] == "meshfed.io/v1alpha1"
    assert document["kind"] == "PeeringBundle"
    assert document["signature"]["algorithm"] == algorithm
    assert pki.load_cert(document["signature"]["signer"].encode()) == signer[2]

    received = bundle.load(bundle.dump(document))
    got, fingerprint = bundle.verify(received, pinned=der_fingerprint(signer[2]), recipient="org-a", issuer="org-b",
                                     now=NOW)
    assert got == body(signer[0])
    assert fingerprint == der_fingerprint(signer[2])


def test_signature_covers_canonical_json_of_body(ca):
    document = signed(ca)
    assert bundle.canonical(document["body"]) == json.dumps(
        document["body"], sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    # the same body with its keys in another order is the same signed content
    reordered = dict(reversed(list(document["body"].items())))
    assert bundle.canonical(reordered) == bundle.canonical(document["body"])
    bundle.verify(dict(document, body=reordered), pinned=der_fingerprint(ca[2]), now=NOW)


def test_dump_is_sorted_indented_json_with_a_trailing_newline(ca):
    document = signed(ca)
    text = bundle.dump(document)
    assert text.endswith("}\n")
    assert text.startswith('{\n  "apiVersion": "meshfed.io/v1alpha1",\n  "body": {')
    assert bundle.load(text) == document


def test_yaml_document_verifies(ca):
    document = signed(ca)
    received = bundle.load(yaml.safe_dump(document))
    got, dummy = bundle.verify(received, pinned=der_fingerprint(ca[2]), now=NOW)
    assert got["issued_at"] == bundle.format_time(NOW - HOUR)


def test_tampered_body_refused_on_signature_value(ca):
    document = signed(ca)
    document["body"]["clusters"][0]["exports"][0]["host"] = "evil.example.com"
    error = refused(document, pinned=der_fingerprint(ca[2]))
    assert error.field == "signature.value"
    assert "changed after signing" in error.message
    assert str(error) == "signature.value: " + error.message


def test_another_key_than_the_signer_certificate_refused_on_signature_value(ca, other_ca):
    document = signed(ca)
    document["signature"]["signer"] = other_ca[0].decode()
    error = refused(document, pinned=der_fingerprint(other_ca[2]))
    assert error.field == "signature.value"
    assert "signed by another key" in error.message


def test_other_ca_signature_refused_when_pinned_to_the_first(ca, other_ca):
    error = refused(signed(other_ca), pinned=der_fingerprint(ca[2]))
    assert error.field == "signature.signer"
    assert der_fingerprint(other_ca[2]) in error.message
    assert der_fingerprint(ca[2]) in error.message


def test_unpinned_signer_refused_without_trust_on_first_use(ca):
    error = refused(signed(ca), pinned=None)
    assert error.field == "signature.signer"
    assert der_fingerprint(ca[2]) in error.message
    assert "signer_fingerprint" in error.message
    assert "trust on first use" in error.message


def test_trust_on_first_use_returns_the_fingerprint_to_pin(ca):
    dummy, fingerprint = bundle.verify(signed(ca), trust_on_first_use=True, now=NOW)
    assert fingerprint == der_fingerprint(ca[2])
    # the pin wins over trust on first use
    error = refused(signed(ca), pinned="sha256:" + "0" * 64, trust_on_first_use=True)
    assert error.field == "signature.signer"


def test_malformed_pin_refused(ca):
    error = refused(signed(ca), pinned="sha1:1234")
    assert error.field == "signature.signer"
    assert "not a SHA-256 fingerprint" in error.message


def test_wrong_recipient(ca):
    error = refused(signed(ca), pinned=der_fingerprint(ca[2]), recipient="org-c")
    assert error.field == "body.recipient"
    assert "bundle is for org-a, not for org-c" in error.message


def test_wrong_issuer(ca):
    error = refused(signed(ca), pinned=der_fingerprint(ca[2]), issuer="org-c")
    assert error.field == "body.issuer"
    assert "org-b" in error.message and "org-c" in error.message


def test_expired(ca):
    document = signed(ca, issued_at=NOW - 40 * DAY, expires_at=NOW - 3 * DAY)
    error = refused(document, pinned=der_fingerprint(ca[2]))
    assert error.field == "body.expires_at"
    assert "expired" in error.message
    assert bundle.format_time(NOW - 3 * DAY) in error.message
    assert "3 days ago" in error.message


def test_expired_at_the_expiry_instant(ca):
    error = refused(signed(ca, expires_at=NOW), pinned=der_fingerprint(ca[2]))
    assert error.field == "body.expires_at"
    assert "expired" in error.message


def test_issued_in_the_future(ca):
    error = refused(signed(ca, issued_at=NOW + 10 * datetime.timedelta(minutes=1)), pinned=der_fingerprint(ca[2]))
    assert error.field == "body.issued_at"
    assert "10 minutes in the future" in error.message


def test_issued_slightly_ahead_of_our_clock_accepted(ca):
    document = signed(ca, issued_at=NOW + 4 * datetime.timedelta(minutes=1))
    got, dummy = bundle.verify(document, pinned=der_fingerprint(ca[2]), now=NOW)
    assert got["issued_at"] == "2026-12-10T03:04:00Z"


def test_expires_before_issued(ca):
    error = refused(signed(ca, issued_at=NOW - HOUR, expires_at=NOW - 2 * HOUR), pinned=der_fingerprint(ca[2]))
    assert error.field == "body.expires_at"
    assert "not after issued_at" in error.message


def test_time_with_utc_offset_accepted_and_local_offset_refused(ca):
    value = body(ca[0])
    value["issued_at"] = "2026-12-10T02:00:00+00:00"
    bundle.verify(bundle.sign(value, ca[0], ca[1]), pinned=der_fingerprint(ca[2]), now=NOW)
    value["issued_at"] = "2026-12-10T04:00:00+02:00"
    error = refused(bundle.sign(value, ca[0], ca[1]), pinned=der_fingerprint(ca[2]))
    assert error.field == "body.issued_at"
    assert "ISO 8601 UTC" in error.message


def test_cas_entry_that_is_not_a_ca(ca):
    leaf_key = pki.generate_key()
    leaf = pki.build_leaf(leaf_key, "c2.example.com", ca[2], ca[3], now=NOW)
    document = bundle.sign(dict(body(ca[0]), cas=[ca[0].decode(), pki.cert_to_pem(leaf).decode()]), ca[0], ca[1])
    error = refused(document, pinned=der_fingerprint(ca[2]))
    assert error.field == "body.cas[1]"
    assert "not a CA" in error.message


@pytest.mark.parametrize("cas, field, words", [
    ([], "body.cas", "non-empty list"),
    (None, "body.cas", "non-empty list"),
    (["not a certificate"], "body.cas[0]", "not a PEM certificate"),
    (["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"], "body.cas[0]", "not a PEM certificate"),
])
def test_cas_must_be_a_list_of_certificates(ca, cas, field, words):
    error = refused(bundle.sign(dict(body(ca[0]), cas=cas), ca[0], ca[1]), pinned=der_fingerprint(ca[2]))
    assert error.field == field
    assert words in error.message


@pytest.mark.parametrize("change, field, words", [
    (lambda d: d.update(apiVersion="meshfed.io/v2"), "apiVersion", "meshfed.io/v1alpha1"),
    (lambda d: d.update(kind="Secret"), "kind", "PeeringBundle"),
    (lambda d: d.update(body=["x"]), "body", "not a mapping"),
    (lambda d: d.pop("signature"), "signature", "not a mapping"),
    (lambda d: d["signature"].pop("value"), "signature.value", "missing"),
    (lambda d: d["signature"].update(algorithm="MD5"), "signature.algorithm", "ECDSA-SHA256"),
    (lambda d: d["signature"].update(algorithm="RSA-PKCS1v15-SHA256"), "signature.algorithm", "ecdsa-p256"),
    (lambda d: d["signature"].update(signer="garbage"), "signature.signer", "not a PEM certificate"),
    (lambda d: d["signature"].update(value="***"), "signature.value", "not base64"),
])
def test_malformed_document_refused_on_the_field(ca, change, field, words):
    document = signed(ca)
    change(document)
    error = refused(document, pinned=der_fingerprint(ca[2]))
    assert error.field == field
    assert words in error.message


def test_sign_refuses_a_key_that_is_not_the_certificates(ca, other_ca):
    with pytest.raises(bundle.BundleError) as info:
        bundle.sign(body(ca[0]), ca[0], other_ca[1])
    assert info.value.field == "signature.signer"
    assert "does not match" in info.value.message


def test_load_refuses_what_is_not_a_json_or_yaml_mapping():
    with pytest.raises(bundle.BundleError) as info:
        bundle.load("{ not: [valid")
    assert info.value.field == "document"
    assert "not JSON or YAML" in info.value.message
    with pytest.raises(bundle.BundleError) as info:
        bundle.load("- a\n- b\n")
    assert "not a mapping" in info.value.message
    assert bundle.load(b'{"kind": "PeeringBundle"}') == {"kind": "PeeringBundle"}


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_sha256_over_der(ca):
    assert bundle.fingerprint(ca[0]) == der_fingerprint(ca[2])
    assert bundle.fingerprint(ca[0].decode()) == der_fingerprint(ca[2])


def test_fingerprint_normalization(ca):
    wanted = der_fingerprint(ca[2])
    digits = wanted[len("sha256:"):]
    colons = ":".join(digits[i:i + 2] for i in range(0, 64, 2))
    for written in ("SHA256:" + colons.upper(), "sha256:" + colons, "SHA256:" + digits.upper(), " %s\n" % wanted,
                    digits, colons.upper()):
        assert bundle.normalize_fingerprint(written) == wanted, written
    assert bundle.normalize_fingerprint(pki.fingerprint_sha256(ca[2])) == wanted
    for not_one in ("sha1:" + digits[:40], "sha256:" + digits[:62], "sha256:" + "g" * 64, "", None, 42):
        assert bundle.normalize_fingerprint(not_one) is None, not_one
    # a pin in any accepted form verifies
    got, fingerprint = bundle.verify(signed(ca), pinned="SHA256:" + colons.upper(), now=NOW)
    assert fingerprint == wanted


# --------------------------------------------------------------------------- changes


@pytest.fixture(scope="module")
def previous(ca):
    return body(ca[0])


def changed(previous, edit):
    new = copy.deepcopy(previous)
    edit(new)
    return changes(previous, new)


def cluster(b, name="cluster2"):
    return [c for c in b["clusters"] if c["name"] == name][0]


def export(b, name="reviews-v2"):
    return [e for e in cluster(b)["exports"] if e["name"] == name][0]


def test_changes_nothing_before_and_nothing_changed(previous):
    assert changes(None, previous) == []
    assert changed(previous, lambda b: None) == []


def test_changes_ignores_issued_and_expiry_times(previous):
    assert changed(previous, lambda b: b.update(issued_at="2027-01-01T00:00:00Z",
                                                expires_at="2027-02-01T00:00:00Z")) == []


def test_changes_new_and_removed_cluster(previous):
    assert changed(previous, lambda b: b["clusters"].append(
        {"name": "cluster3", "identity": "c3.example.com", "gateway_address": None, "exports": []})) == [
        "cluster3: new cluster"]
    assert changed(previous, lambda b: b["clusters"].clear()) == ["cluster2: cluster removed"]


def test_changes_identity_and_gateway_address(previous):
    def edit(b):
        cluster(b).update(identity="c2.other.example.com",
                          gateway_address={"address": "5.6.7.8", "port": 15443})
    assert changed(previous, edit) == [
        "cluster2: identity c2.example.com -> c2.other.example.com",
        "cluster2: gateway address 172.31.2.100:15443 -> 5.6.7.8:15443",
    ]
    assert changed(previous, lambda b: cluster(b).update(gateway_address=None)) == [
        "cluster2: gateway address 172.31.2.100:15443 -> none"]


def test_changes_consumer_flag(previous):
    assert changed(previous, lambda b: cluster(b).update(consumer=False)) == ["cluster2: consumer true -> false"]


def test_changes_new_and_removed_export(previous):
    def add(b):
        cluster(b)["exports"].append(dict(export(b), name="ratings"))
    assert changed(previous, add) == ["cluster2: export ratings added"]
    assert changed(previous, lambda b: cluster(b)["exports"].clear()) == ["cluster2: export reviews-v2 removed"]


def test_changes_export_fields(previous):
    def edit(b):
        export(b).update(protocol="tcp", host="reviews.example.com", port=15444, path_prefix="/api")
    assert changed(previous, edit) == [
        "cluster2: export reviews-v2 protocol http -> tcp",
        "cluster2: export reviews-v2 host reviews-v2.org-a.c2.example.com -> reviews.example.com",
        "cluster2: export reviews-v2 port 15443 -> 15444",
        "cluster2: export reviews-v2 path_prefix / -> /api",
    ]


def test_changes_export_consumers(previous):
    def edit(b):
        consumers = export(b)["consumers"]
        consumers[0].update(methods=None, paths=["/reviews/*", "/health"])
        consumers.append({"cluster": "cluster3", "methods": None, "paths": None})
    assert changed(previous, edit) == [
        "cluster2: export reviews-v2 consumer cluster1 methods GET -> any",
        "cluster2: export reviews-v2 consumer cluster1 paths /reviews/* -> /reviews/*, /health",
        "cluster2: export reviews-v2 consumer cluster3 added",
    ]
    assert changed(previous, lambda b: export(b)["consumers"].clear()) == [
        "cluster2: export reviews-v2 consumer cluster1 removed"]


def test_changes_cas_added_and_removed_by_short_fingerprint(previous, ca, other_ca):
    old_short = der_fingerprint(ca[2])[:len("sha256:") + 16]
    new_short = der_fingerprint(other_ca[2])[:len("sha256:") + 16]
    assert changed(previous, lambda b: b["cas"].append(other_ca[0].decode())) == ["CA %s added" % new_short]
    assert changed(previous, lambda b: b.update(cas=[other_ca[0].decode()])) == [
        "CA %s added" % new_short, "CA %s removed" % old_short]


def test_a_list_of_pins_accepts_either_signer_for_a_ca_rotation_s_overlap(ca, other_ca):
    both = [der_fingerprint(ca[2]), der_fingerprint(other_ca[2])]
    for signer in (ca, other_ca):
        dummy, fingerprint = bundle.verify(signed(signer), pinned=both, now=NOW)
        assert fingerprint == der_fingerprint(signer[2])
    error = refused(signed(other_ca), pinned=[der_fingerprint(ca[2])])
    assert error.field == "signature.signer" and der_fingerprint(other_ca[2]) in error.message
    error = refused(signed(ca), pinned=[der_fingerprint(ca[2]), "sha1:1234"])
    assert "not a SHA-256 fingerprint" in error.message
    assert "not a SHA-256 fingerprint" in refused(signed(ca), pinned=[]).message
