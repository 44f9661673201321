# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The federation's PKI: a root CA and one gateway certificate per cluster, with ``cryptography``.

Pure functions (data in, data out) build keys and certificates and decide, community.crypto style,
whether what is on disk can be kept: ``leaf_reasons()`` / ``ca_reasons()`` return the list of reasons
to regenerate (empty = keep). Each reason is ``"<code>: <detail>"`` with a code from ``REASON_CODES``.
File IO lives in the small helpers at the end (``read_bytes``, ``ensure_dir``, ``write_atomic``).

Why one file over 400 lines: building a certificate and deciding whether the one on disk can be kept are the same
facts read both ways (subject, SANs, key usage, validity); apart, each would restate the other's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import datetime
import os
import stat

from ansible_collections.meshfed.federation.plugins.module_utils.model.names import gateway_principal

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as _error:  # pragma: no cover - reported by the module with missing_required_lib
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _error

KEY_TYPES = ("ecdsa-p256", "rsa2048", "rsa4096")
DEFAULT_KEY_TYPE = "ecdsa-p256"
DEFAULT_CA_COMMON_NAME = "meshfed root CA"
DEFAULT_VALIDITY_DAYS = 365
DEFAULT_RENEWAL_DAYS = 30
DEFAULT_CA_VALIDITY_DAYS = 3650
DEFAULT_CA_RENEWAL_DAYS = 90
BACKDATE = datetime.timedelta(minutes=5)

KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700

# Why a key/certificate pair must be (re)generated.
REASON_CODES = (
    "missing",        # certificate or key file absent
    "unreadable",     # not a PEM certificate / unencrypted PEM private key
    "key_mismatch",   # the certificate's public key is not the key's
    "key_type",       # the key is not of the requested type
    "identity",       # subject CN or SANs differ from the cluster identity
    "issuer",         # not signed by the current CA (issuer name or signature)
    "not_yet_valid",
    "expired",
    "renewal",        # expires within the renewal window
    "eku",            # serverAuth or clientAuth missing
    "profile",        # basicConstraints/keyUsage not those of a gateway leaf (or of a CA, for the CA)
    "subject",        # CA subject differs from the requested common name / organization
    "force",          # force (leaves) / rotate_ca (CA) requested
    "ca_regenerated",  # the CA is new, so every leaf is re-issued
    "user_ca",        # the copy of a user-supplied CA certificate differs from it
)


class PKIError(Exception):
    """A user-supplied CA or an option that cannot be used."""


def reason(code, detail):
    if code not in REASON_CODES:
        raise ValueError("unknown reason code %r" % code)
    return "%s: %s" % (code, detail)


def utcnow():
    """Now, in UTC, to the second (as certificates store it)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


# --------------------------------------------------------------------------- keys


def generate_key(key_type=DEFAULT_KEY_TYPE):
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "rsa4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
    raise PKIError("unknown key type %r; expected one of %s" % (key_type, ", ".join(KEY_TYPES)))


def key_type_of(key):
    """The KEY_TYPES name of a private or public key, or a description of an unsupported one."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ecdsa-p256" if isinstance(key.curve, ec.SECP256R1) else "ecdsa-%s" % key.curve.name
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa%d" % key.key_size
    return type(key).__name__


def _public_der(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches_cert(key, cert):
    return _public_der(key.public_key()) == _public_der(cert.public_key())


def key_to_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_to_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_key(pem):
    """Private key from unencrypted PEM; PKIError when it is not one."""
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise PKIError("not an unencrypted PEM private key: %s" % error)


def load_cert(pem):
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as error:
        raise PKIError("not a PEM certificate: %s" % error)


# --------------------------------------------------------------------------- building


def leaf_sans(identity):
    return [x509.DNSName(identity), x509.UniformResourceIdentifier("spiffe://" + gateway_principal(identity))]


def _ca_name(common_name, organization):
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def ca_subject(common_name, organization=None):
    """RFC 4514 form of a generated CA's subject."""
    return _ca_name(common_name, organization).rfc4514_string()


def _validity(builder, key, now, validity_days):
    """The certificate of ``key``, valid from a little before ``now`` for ``validity_days``, a random serial."""
    return (builder.public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=validity_days)))


def _key_usage(**allowed):
    usages = dict((usage, False) for usage in ("digital_signature", "content_commitment", "key_encipherment",
                                               "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
                                               "encipher_only", "decipher_only"))
    usages.update(allowed)
    return x509.KeyUsage(**usages)


def build_ca(key, common_name=DEFAULT_CA_COMMON_NAME, organization=None, validity_days=DEFAULT_CA_VALIDITY_DAYS,
             now=None):
    """Self-signed root CA certificate for ``key``."""
    now = now or utcnow()
    name = _ca_name(common_name, organization)
    builder = (
        _validity(x509.CertificateBuilder().subject_name(name).issuer_name(name), key, now, validity_days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _authority_key_identifier(ca_cert):
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())


def build_leaf(key, identity, ca_cert, ca_key, validity_days=DEFAULT_VALIDITY_DAYS, now=None):
    """Gateway certificate of one cluster: CN and SANs from ``identity``, serverAuth + clientAuth."""
    now = now or utcnow()
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identity)])
    builder = (
        _validity(x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject), key, now, validity_days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_encipherment=is_rsa), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName(leaf_sans(identity)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca_cert), critical=False)
    )
    return builder.sign(ca_key, hashes.SHA256())


# --------------------------------------------------------------------------- inspecting


def _ext(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def is_ca(cert):
    constraints = _ext(cert, x509.BasicConstraints)
    usage = _ext(cert, x509.KeyUsage)
    return bool(constraints and constraints.ca and (usage is None or usage.key_cert_sign))


def san_strings(cert):
    sans = _ext(cert, x509.SubjectAlternativeName)
    if sans is None:
        return []
    out = []
    for name in sans:
        if isinstance(name, x509.DNSName):
            out.append("DNS:%s" % name.value)
        elif isinstance(name, x509.UniformResourceIdentifier):
            out.append("URI:%s" % name.value)
        elif isinstance(name, x509.IPAddress):
            out.append("IP:%s" % name.value)
        else:
            out.append("%s:%s" % (type(name).__name__, name.value))
    return out


def expected_san_strings(identity):
    return ["DNS:%s" % identity, "URI:spiffe://" + gateway_principal(identity)]


def signed_by(cert, ca_cert):
    """True when ``cert`` names ``ca_cert``'s subject as issuer and its signature verifies with the CA key."""
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def fingerprint_sha256(cert):
    return ":".join("%02X" % b for b in bytearray(cert.fingerprint(hashes.SHA256())))


def whole_days(seconds):
    """Whole days in a span of seconds, rounded down (-1 for a certificate that expired less than a day ago)."""
    return int(seconds // 86400)


def days_left(cert, now=None):
    now = now or utcnow()
    return whole_days((cert.not_valid_after_utc - now).total_seconds())


def cert_metadata(cert):
    """What a diff shows of a certificate (never key material)."""
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sans": san_strings(cert),
        "serial": "%X" % cert.serial_number,
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "key_type": key_type_of(cert.public_key()),
        "fingerprint_sha256": fingerprint_sha256(cert),
    }


def _validity_reasons(cert, renewal_days, now):
    if now < cert.not_valid_before_utc:
        return [reason("not_yet_valid", "valid only from %s" % cert.not_valid_before_utc.isoformat())]
    if now >= cert.not_valid_after_utc:
        return [reason("expired", "expired on %s" % cert.not_valid_after_utc.isoformat())]
    if cert.not_valid_after_utc - now < datetime.timedelta(days=renewal_days):
        return [reason("renewal", "expires on %s, within the renewal window of %d days"
                       % (cert.not_valid_after_utc.isoformat(), renewal_days))]
    return []


def _load_pair(cert_pem, key_pem):
    """(cert, key, reasons): reasons non-empty when either is missing or unreadable."""
    missing = [what for what, pem in (("certificate", cert_pem), ("key", key_pem)) if pem is None]
    if missing:
        return None, None, [reason("missing", "no %s" % " and no ".join(missing))]
    reasons = []
    cert = key = None
    try:
        cert = load_cert(cert_pem)
    except PKIError as error:
        reasons.append(reason("unreadable", "certificate: %s" % error))
    try:
        key = load_key(key_pem)
    except PKIError as error:
        reasons.append(reason("unreadable", "key: %s" % error))
    return cert, key, reasons


def _key_reasons(cert, key, key_type):
    reasons = []
    if key_type_of(key) != key_type:
        reasons.append(reason("key_type", "key is %s, wanted %s" % (key_type_of(key), key_type)))
    if not key_matches_cert(key, cert):
        reasons.append(reason("key_mismatch", "the certificate's public key is not the key's"))
    return reasons


def leaf_reasons(cert_pem, key_pem, identity, ca_cert, key_type=DEFAULT_KEY_TYPE,
                 renewal_days=DEFAULT_RENEWAL_DAYS, now=None):
    """Why the gateway key/certificate of ``identity`` must be regenerated; [] means keep them.

    ``cert_pem``/``key_pem`` are the file contents (bytes) or None when the file does not exist.
    """
    now = now or utcnow()
    cert, key, reasons = _load_pair(cert_pem, key_pem)
    if reasons:
        return reasons
    reasons = _key_reasons(cert, key, key_type)
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if cns != [identity]:
        reasons.append(reason("identity", "subject CN is %s, wanted %s" % (",".join(cns) or "(none)", identity)))
    have, want = san_strings(cert), expected_san_strings(identity)
    if sorted(have) != sorted(want):
        reasons.append(reason("identity", "SANs are [%s], wanted [%s]" % (", ".join(have), ", ".join(want))))
    if not signed_by(cert, ca_cert):
        reasons.append(reason("issuer", "not issued by the current CA (%s)" % ca_cert.subject.rfc4514_string()))
    reasons.extend(_validity_reasons(cert, renewal_days, now))
    eku = _ext(cert, x509.ExtendedKeyUsage)
    missing_eku = [name for name, oid in (("serverAuth", ExtendedKeyUsageOID.SERVER_AUTH),
                                          ("clientAuth", ExtendedKeyUsageOID.CLIENT_AUTH))
                   if eku is None or oid not in eku]
    if missing_eku:
        reasons.append(reason("eku", "extended key usage lacks %s" % " and ".join(missing_eku)))
    constraints = _ext(cert, x509.BasicConstraints)
    usage = _ext(cert, x509.KeyUsage)
    if constraints is None or constraints.ca:
        reasons.append(reason("profile", "basicConstraints is not CA:false"))
    if usage is None or not usage.digital_signature:
        reasons.append(reason("profile", "keyUsage lacks digitalSignature"))
    return reasons


def ca_reasons(cert_pem, key_pem, common_name=DEFAULT_CA_COMMON_NAME, organization=None,
               key_type=DEFAULT_KEY_TYPE, renewal_days=DEFAULT_CA_RENEWAL_DAYS, now=None):
    """Why the generated root CA must be regenerated; [] means keep it."""
    now = now or utcnow()
    cert, key, reasons = _load_pair(cert_pem, key_pem)
    if reasons:
        return reasons
    reasons = _key_reasons(cert, key, key_type)
    wanted = _ca_name(common_name, organization)
    if cert.subject != wanted:
        reasons.append(reason("subject", "subject is %s, wanted %s"
                              % (cert.subject.rfc4514_string(), wanted.rfc4514_string())))
    if not is_ca(cert):
        reasons.append(reason("profile", "not a CA certificate (basicConstraints CA:true, keyCertSign)"))
    elif not signed_by(cert, cert):
        reasons.append(reason("profile", "not self-signed"))
    reasons.extend(_validity_reasons(cert, renewal_days, now))
    return reasons


def check_user_ca(cert_pem, key_pem, now=None):
    """Validate a user-supplied CA (used as is); returns (cert, key) or raises PKIError naming every problem."""
    now = now or utcnow()
    if cert_pem is None or key_pem is None:
        raise PKIError("user-supplied CA: %s not found" % ("certificate" if cert_pem is None else "key"))
    cert, key = load_cert(cert_pem), load_key(key_pem)
    problems = []
    if not is_ca(cert):
        problems.append("the certificate is not a CA (basicConstraints CA:true and keyUsage keyCertSign)")
    if not key_matches_cert(key, cert):
        problems.append("the key does not match the certificate")
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        problems.append("unsupported key type %s (RSA or ECDSA only)" % key_type_of(key))
    if now < cert.not_valid_before_utc or now >= cert.not_valid_after_utc:
        problems.append("the certificate is not valid now (%s to %s)"
                        % (cert.not_valid_before_utc.isoformat(), cert.not_valid_after_utc.isoformat()))
    if problems:
        raise PKIError("user-supplied CA %s: %s" % (cert.subject.rfc4514_string(), "; ".join(problems)))
    return cert, key


# --------------------------------------------------------------------------- file IO


def read_bytes(path):
    """File contents, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def ensure_dir(path, mode=DIR_MODE):
    """Create ``path`` (and missing parents) with ``mode``; existing directories are left alone. True if created."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        return False
    parent = os.path.dirname(path)
    if parent != path:
        ensure_dir(parent, mode)
    os.mkdir(path, mode)
    os.chmod(path, mode)  # mkdir's mode is filtered by the umask
    return True


def write_atomic(path, data, mode):
    """Write ``data`` to ``path`` atomically: a temp file in the same directory, created with ``mode`` before any
    byte is written, fsynced, then renamed over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = None, None
    try:
        # created exclusively with its final mode (0600 for keys) before any byte is written; fchmod
        # because the umask filters os.open's mode
        tmp = os.path.join(directory, ".%s.%s.tmp" % (os.path.basename(path), binascii.hexlify(os.urandom(6)).decode()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, path)
        tmp = None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def fix_mode(path, mode):
    """chmod ``path`` to ``mode`` if it exists with another one; True when changed."""
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    if current != mode:
        os.chmod(path, mode)
        return True
    return False
