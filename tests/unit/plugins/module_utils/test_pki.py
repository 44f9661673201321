# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PKI: certificate profile, every regeneration rule and the keep rule, atomic writes, and real TLS handshakes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import socket
import ssl
import stat
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki

NOW = pki.utcnow()
C1, C2 = "c1.example.com", "c2.example.com"


@pytest.fixture(scope="module")
def ca():
    key = pki.generate_key()
    return pki.build_ca(key, organization="demo", now=NOW), key


@pytest.fixture(scope="module")
def other_ca():
    key = pki.generate_key()
    return pki.build_ca(key, organization="demo", now=NOW), key


def leaf(ca, identity=C1, key_type="ecdsa-p256", validity_days=365, now=NOW):
    key = pki.generate_key(key_type)
    return pki.build_leaf(key, identity, ca[0], ca[1], validity_days, now), key


def pems(cert, key):
    return pki.cert_to_pem(cert), pki.key_to_pem(key)


def codes(cert_pem, key_pem, ca_cert, identity=C1, key_type="ecdsa-p256", renewal_days=30, now=NOW):
    return reason_codes(pki.leaf_reasons(cert_pem, key_pem, identity, ca_cert, key_type, renewal_days, now))


def custom_leaf(ca, identity=C1, sans=None, eku=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)):
    """A leaf built by hand, to break one property at a time."""
    key = pki.generate_key()
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)]))
               .issuer_name(ca[0].subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(minutes=5))
               .not_valid_after(NOW + datetime.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
               .add_extension(x509.SubjectAlternativeName(pki.leaf_sans(identity) if sans is None else sans),
                              critical=False))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return builder.sign(ca[1], hashes.SHA256()), key


# --------------------------------------------------------------------------- profile


def test_ca_profile(ca):
    cert = ca[0]
    assert cert.subject.rfc4514_string() == "O=demo,CN=meshfed root CA"
    assert cert.issuer == cert.subject
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert pki.signed_by(cert, cert)


@pytest.mark.parametrize("key_type", pki.KEY_TYPES)
def test_leaf_profile(ca, key_type):
    cert, key = leaf(ca, key_type=key_type)
    assert pki.key_type_of(key) == key_type
    assert cert.subject.rfc4514_string() == "CN=c1.example.com"
    assert pki.san_strings(cert) == ["DNS:c1.example.com", "URI:spiffe://c1.example.com/meshfed-gateway"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert usage.key_encipherment == key_type.startswith("rsa")
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca[0].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value == \
        x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert cert.not_valid_before_utc == NOW - datetime.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + datetime.timedelta(days=365)
    assert pki.signed_by(cert, ca[0])


def test_random_serials(ca):
    assert leaf(ca)[0].serial_number != leaf(ca)[0].serial_number


def test_unknown_key_type():
    with pytest.raises(pki.PKIError):
        pki.generate_key("dsa1024")


# --------------------------------------------------------------------------- leaf decisions


def test_keep_valid_matching_leaf(ca):
    assert pki.leaf_reasons(*pems(*leaf(ca)), identity=C1, ca_cert=ca[0], now=NOW) == []
    assert codes(*pems(*leaf(ca, key_type="rsa2048")), ca_cert=ca[0], key_type="rsa2048") == []


@pytest.mark.parametrize("which", ["cert", "key", "both"])
def test_missing(ca, which):
    cert_pem, key_pem = pems(*leaf(ca))
    cert_pem = None if which in ("cert", "both") else cert_pem
    key_pem = None if which in ("key", "both") else key_pem
    assert codes(cert_pem, key_pem, ca[0]) == ["missing"]


def test_unreadable(ca):
    cert_pem, key_pem = pems(*leaf(ca))
    assert codes(b"garbage", key_pem, ca[0]) == ["unreadable"]
    assert codes(cert_pem, b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n", ca[0]) == ["unreadable"]


def test_key_mismatch(ca):
    cert = leaf(ca)[0]
    assert codes(pki.cert_to_pem(cert), pki.key_to_pem(pki.generate_key()), ca[0]) == ["key_mismatch"]


def test_key_type_differs(ca):
    assert codes(*pems(*leaf(ca)), ca_cert=ca[0], key_type="rsa2048") == ["key_type"]


def test_identity_differs(ca):
    reasons = pki.leaf_reasons(*pems(*leaf(ca, identity=C2)), identity=C1, ca_cert=ca[0], now=NOW)
    assert reason_codes(reasons) == ["identity", "identity"]
    assert "c2.example.com" in reasons[0] and "wanted c1.example.com" in reasons[0]


def test_san_differs_with_same_cn(ca):
    cert, key = custom_leaf(ca, sans=[x509.DNSName(C1)])
    assert codes(*pems(cert, key), ca_cert=ca[0]) == ["identity"]
    assert codes(*pems(*custom_leaf(ca)), ca_cert=ca[0]) == []  # the hand-built control case is kept


def test_signed_by_another_ca(ca, other_ca):
    assert codes(*pems(*leaf(other_ca)), ca_cert=ca[0]) == ["issuer"]


def test_same_issuer_name_other_key_is_detected(ca):
    """Issuer names match (same CN and O), the signature does not verify with the current CA's key."""
    impostor_key = pki.generate_key()
    impostor = (pki.build_ca(impostor_key, organization="demo", now=NOW), impostor_key)
    assert impostor[0].subject == ca[0].subject
    assert codes(*pems(*leaf(impostor)), ca_cert=ca[0]) == ["issuer"]


def test_issuer_name_differs(ca):
    other_key = pki.generate_key()
    other = (pki.build_ca(other_key, "another CA", "demo", now=NOW), other_key)
    assert codes(*pems(*leaf(other)), ca_cert=ca[0]) == ["issuer"]


def test_expired(ca):
    old = NOW - datetime.timedelta(days=400)
    assert codes(*pems(*leaf(ca, now=old)), ca_cert=ca[0]) == ["expired"]


def test_not_yet_valid(ca):
    future = NOW + datetime.timedelta(days=2)
    assert codes(*pems(*leaf(ca, now=future)), ca_cert=ca[0]) == ["not_yet_valid"]


def test_renewal_window(ca):
    cert_pem, key_pem = pems(*leaf(ca, validity_days=20))
    assert codes(cert_pem, key_pem, ca[0], renewal_days=30) == ["renewal"]
    assert codes(cert_pem, key_pem, ca[0], renewal_days=19) == []
    # the same certificate, seen later, enters the window
    cert_pem, key_pem = pems(*leaf(ca))
    assert codes(cert_pem, key_pem, ca[0], now=NOW + datetime.timedelta(days=336)) == ["renewal"]
    assert codes(cert_pem, key_pem, ca[0], now=NOW + datetime.timedelta(days=334)) == []


@pytest.mark.parametrize("eku", [(ExtendedKeyUsageOID.SERVER_AUTH,), (ExtendedKeyUsageOID.CLIENT_AUTH,), ()])
def test_eku_missing(ca, eku):
    assert codes(*pems(*custom_leaf(ca, eku=eku)), ca_cert=ca[0]) == ["eku"]


def test_a_ca_certificate_is_not_a_gateway_leaf(ca):
    assert "profile" in codes(pki.cert_to_pem(ca[0]), pki.key_to_pem(ca[1]), ca[0], identity="meshfed root CA")


def test_several_reasons_are_all_reported(ca, other_ca):
    cert_pem, key_pem = pems(*leaf(other_ca, identity=C2, now=NOW - datetime.timedelta(days=400)))
    assert set(codes(cert_pem, key_pem, ca[0], key_type="rsa4096")) == {"key_type", "identity", "issuer", "expired"}


# --------------------------------------------------------------------------- CA decisions


def test_keep_valid_ca(ca):
    assert pki.ca_reasons(*pems(*ca), organization="demo", now=NOW) == []


def test_ca_rules(ca):
    cert_pem, key_pem = pems(*ca)
    assert reason_codes(pki.ca_reasons(None, key_pem, organization="demo", now=NOW)) == ["missing"]
    assert reason_codes(pki.ca_reasons(cert_pem, key_pem, "new name", "demo", now=NOW)) == ["subject"]
    assert reason_codes(pki.ca_reasons(cert_pem, key_pem, organization="other", now=NOW)) == ["subject"]
    assert reason_codes(pki.ca_reasons(cert_pem, key_pem, organization="demo", key_type="rsa2048",
                                       now=NOW)) == ["key_type"]
    assert reason_codes(pki.ca_reasons(cert_pem, pki.key_to_pem(pki.generate_key()), organization="demo",
                                       now=NOW)) == ["key_mismatch"]
    later = NOW + datetime.timedelta(days=3650 - 89)
    assert reason_codes(pki.ca_reasons(cert_pem, key_pem, organization="demo", now=later)) == ["renewal"]


def test_a_leaf_is_not_a_ca(ca):
    cert, key = leaf(ca, identity="meshfed root CA")
    assert "profile" in reason_codes(pki.ca_reasons(*pems(cert, key), now=NOW))


def test_user_ca_checks(ca):
    assert pki.check_user_ca(*pems(*ca), now=NOW)[0] == ca[0]
    with pytest.raises(pki.PKIError, match="key does not match"):
        pki.check_user_ca(pki.cert_to_pem(ca[0]), pki.key_to_pem(pki.generate_key()), now=NOW)
    with pytest.raises(pki.PKIError, match="not a CA"):
        pki.check_user_ca(*pems(*leaf(ca)), now=NOW)
    with pytest.raises(pki.PKIError, match="not valid now"):
        pki.check_user_ca(*pems(*ca), now=NOW + datetime.timedelta(days=4000))
    with pytest.raises(pki.PKIError, match="not found"):
        pki.check_user_ca(None, pki.key_to_pem(ca[1]), now=NOW)


def test_metadata_has_no_key_material(ca):
    text = repr(pki.cert_metadata(leaf(ca)[0]))
    assert "PRIVATE" not in text and "BEGIN" not in text


# --------------------------------------------------------------------------- file IO


def test_key_file_is_0600_before_any_byte_is_written(tmp_path, monkeypatch):
    old_umask = os.umask(0)
    opened, seen = [], []
    real_open, real_write = os.open, os.write

    def spy_open(path, flags, mode=0o777, **kwargs):
        opened.append((path, flags, mode))
        return real_open(path, flags, mode, **kwargs)

    def spy_write(fd, data):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(pki.os, "open", spy_open)
    monkeypatch.setattr(pki.os, "write", spy_write)
    try:
        target = tmp_path / "cluster1.key"
        pki.write_atomic(str(target), pki.key_to_pem(pki.generate_key()), pki.KEY_MODE)
    finally:
        os.umask(old_umask)
    created = [(path, flags, mode) for path, flags, mode in opened if flags & os.O_CREAT]
    assert len(created) == 1
    path, flags, mode = created[0]
    assert os.path.dirname(path) == str(tmp_path)  # temp file in the same directory, then renamed
    assert flags & os.O_EXCL and mode == 0o600  # created 0600, not chmod-ed afterwards
    assert seen and set(seen) == {0o600}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["cluster1.key"]  # no temp file left


def test_modes_do_not_depend_on_the_umask(tmp_path):
    old_umask = os.umask(0o077)
    try:
        pki.write_atomic(str(tmp_path / "cluster1.crt"), b"cert", pki.CERT_MODE)
        pki.write_atomic(str(tmp_path / "cluster1.key"), b"key", pki.KEY_MODE)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "cluster1.crt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "cluster1.key").stat().st_mode) == 0o600


def test_rewrite_keeps_modes(tmp_path):
    target = tmp_path / "cluster1.key"
    target.write_bytes(b"old")
    os.chmod(str(target), 0o644)
    pki.write_atomic(str(target), b"new", pki.KEY_MODE)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_write_atomic_replaces_and_cleans_up_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "ca.crt"
    target.write_bytes(b"old")

    def failing_fsync(fd):
        raise OSError("disk gone")

    monkeypatch.setattr(pki.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        pki.write_atomic(str(target), b"new", pki.CERT_MODE)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["ca.crt"]


def test_ensure_dir_mode(tmp_path):
    old_umask = os.umask(0o022)
    try:
        assert pki.ensure_dir(str(tmp_path / "a" / "pki"))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "a" / "pki").stat().st_mode) == 0o700
    assert not pki.ensure_dir(str(tmp_path / "a" / "pki"))


def test_read_bytes_missing(tmp_path):
    assert pki.read_bytes(str(tmp_path / "nope")) is None


# --------------------------------------------------------------------------- real TLS handshakes


def write_pair(tmp_path, name, cert, key):
    cert_file, key_file = tmp_path / ("%s.crt" % name), tmp_path / ("%s.key" % name)
    pki.write_atomic(str(cert_file), pki.cert_to_pem(cert), pki.CERT_MODE)
    pki.write_atomic(str(key_file), pki.key_to_pem(key), pki.KEY_MODE)
    return str(cert_file), str(key_file)


def handshake(server_pair, server_ca, client_pair, client_ca, server_hostname):
    """One mTLS exchange over 127.0.0.1; returns (client outcome, server outcome): "ok" or the exception."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*server_pair)
    server_ctx.load_verify_locations(server_ca)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # check_hostname and CERT_REQUIRED by default
    client_ctx.load_cert_chain(*client_pair)
    client_ctx.load_verify_locations(client_ca)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    outcome = {}

    def serve():
        try:
            conn = listener.accept()[0]
            conn.settimeout(10)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                peer = tls.getpeercert()
                outcome["peer_sans"] = peer.get("subjectAltName")
                tls.sendall(b"echo:" + tls.recv(64))
            outcome["server"] = "ok"
        except Exception as error:  # pylint: disable=broad-except
            outcome["server"] = error

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=10) as raw:
            with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                tls.sendall(b"hello")
                answer = tls.recv(64)
                client = "ok" if answer == b"echo:hello" else "no answer (%r)" % answer
    except Exception as error:  # pylint: disable=broad-except
        client = error
    thread.join(15)
    listener.close()
    return client, outcome.get("server"), outcome.get("peer_sans")


@pytest.fixture
def federation_files(tmp_path, ca, other_ca):
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(pki.cert_to_pem(ca[0]))
    other_ca_file = tmp_path / "other-ca.crt"
    other_ca_file.write_bytes(pki.cert_to_pem(other_ca[0]))
    return {
        "ca": str(ca_file), "other_ca": str(other_ca_file),
        "c1": write_pair(tmp_path, "cluster1", *leaf(ca, C1, key_type="rsa2048")),
        "c2": write_pair(tmp_path, "cluster2", *leaf(ca, C2)),
        "foreign": write_pair(tmp_path, "foreign", *leaf(other_ca, C1)),
    }


def test_tls_same_ca_is_accepted_and_identity_checked(federation_files):
    f = federation_files
    client, server, peer_sans = handshake(f["c2"], f["ca"], f["c1"], f["ca"], server_hostname=C2)
    assert client == "ok", client
    assert server == "ok", server
    assert ("DNS", C1) in peer_sans and ("URI", "spiffe://c1.example.com/meshfed-gateway") in peer_sans


def test_tls_client_from_another_ca_is_refused(federation_files):
    f = federation_files
    # the client trusts the federation's CA (so it accepts the server) but presents a foreign certificate
    client, server = handshake(f["c2"], f["ca"], f["foreign"], f["ca"], server_hostname=C2)[:2]
    assert isinstance(server, ssl.SSLError), server
    assert "certificate verify failed" in str(server), server
    assert client != "ok"


def test_tls_client_expecting_another_server_identity_fails(federation_files):
    f = federation_files
    client, server = handshake(f["c2"], f["ca"], f["c1"], f["ca"], server_hostname="c3.example.com")[:2]
    assert isinstance(client, ssl.SSLCertVerificationError), client
    assert "c3.example.com" in str(client) or "hostname" in str(client).lower()
    assert server != "ok"


def test_tls_server_from_another_ca_is_refused_by_the_client(federation_files):
    f = federation_files
    client = handshake(f["foreign"], f["other_ca"], f["c2"], f["ca"], server_hostname=C1)[0]
    assert isinstance(client, ssl.SSLCertVerificationError), client


def reason_codes(reasons):
    return [r.split(":", 1)[0] for r in reasons]
