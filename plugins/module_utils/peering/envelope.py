# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peering bundles: the signed JSON document a party hands each peer party, describing what it grants that peer.

A bundle carries no secret: the peer's CA certificates, its clusters, their gateways and exports. ``sign()`` makes
one, ``verify()`` checks one received (signature, pinned signer, parties, validity, CAs) and ``changes()`` says what
a new bundle of a peer changes against the one before. Keys and certificates are read with module_utils/pki/certificates.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import datetime
import json

from ansible_collections.meshfed.federation.plugins.module_utils.pki import certificates as pki

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
except ImportError:  # pragma: no cover - reported through pki.HAS_CRYPTOGRAPHY
    pass

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - JSON bundles are still read
    HAS_YAML = False

API_VERSION = "meshfed.io/v1alpha1"
KIND = "PeeringBundle"
ECDSA_SHA256 = "ECDSA-SHA256"
RSA_SHA256 = "RSA-PKCS1v15-SHA256"
ALGORITHMS = (ECDSA_SHA256, RSA_SHA256)
FINGERPRINT_PREFIX = "sha256:"
# how far issued_at may be ahead of our clock: the two parties' clocks differ a little
CLOCK_SKEW = datetime.timedelta(minutes=5)
SHORT_FINGERPRINT = 16
HEX_DIGITS = frozenset("0123456789abcdef")


class BundleError(Exception):
    """A bundle that cannot be used: ``field`` is the bundle field at fault (``"body.recipient"``)."""

    def __init__(self, field, message):
        super(BundleError, self).__init__(field, message)
        self.field = field
        self.message = message

    def __str__(self):
        return "%s: %s" % (self.field, self.message)


# --------------------------------------------------------------------------- encoding


def canonical(body):
    """The bytes a signature covers: ``body`` as compact JSON with sorted keys, ASCII only."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")


def dump(document):
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def load(text):
    """The document in ``text`` (str or bytes), JSON or YAML."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BundleError("document", "not JSON or YAML: not UTF-8 text (%s)" % error)
    try:
        document = json.loads(text)
    except ValueError as json_error:
        if not HAS_YAML:
            raise BundleError("document", "not JSON (%s), and PyYAML is not installed to read YAML" % json_error)
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise BundleError("document", "not JSON or YAML: %s" % str(error).splitlines()[0])
    if not isinstance(document, dict):
        raise BundleError("document", "not a mapping (a %s document) but %s" % (KIND, _type_name(document)))
    return document


def format_time(moment):
    """An aware datetime as a bundle writes it: ISO 8601 UTC to the second, ending in Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def validity(now, days):
    """(issued_at, expires_at) of a bundle issued at ``now`` (an aware datetime) for ``days``, as it writes them."""
    return format_time(now), format_time(now + datetime.timedelta(days=days))


def parse_time(text):
    """An ISO 8601 UTC time ending in Z (or +00:00) as an aware datetime; None when ``text`` is not one."""
    if not isinstance(text, str) or not (text.endswith("Z") or text.endswith("+00:00")):
        return None
    try:
        return datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None


def _type_name(value):
    return "null" if value is None else type(value).__name__


def _pem_bytes(pem):
    return pem.encode("ascii") if isinstance(pem, str) else pem


# --------------------------------------------------------------------------- fingerprints


def normalize_fingerprint(text):
    """``"sha256:<64 lowercase hex>"`` from a SHA-256 fingerprint written with or without the ``sha256:`` prefix,
    with or without colons, in any case; None when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    digits = text.strip().lower()
    if digits.startswith(FINGERPRINT_PREFIX):
        digits = digits[len(FINGERPRINT_PREFIX):]
    digits = digits.replace(":", "")
    if len(digits) != 64 or not HEX_DIGITS.issuperset(digits):
        return None
    return FINGERPRINT_PREFIX + digits


def _cert_fingerprint(cert):
    return normalize_fingerprint(pki.fingerprint_sha256(cert))


def fingerprint(cert_pem):
    """``"sha256:<hex>"`` of a PEM certificate (str or bytes): SHA-256 over its DER. Raises pki.PKIError."""
    return _cert_fingerprint(pki.load_cert(_pem_bytes(cert_pem)))


def short_fingerprint(value):
    return value[:len(FINGERPRINT_PREFIX) + SHORT_FINGERPRINT]


# --------------------------------------------------------------------------- signing


def _scheme(key):
    """(algorithm, the arguments sign/verify take after the data) of a private or public key; (None, ()) for a key
    type bundles do not use."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return ECDSA_SHA256, (ec.ECDSA(hashes.SHA256()),)
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return RSA_SHA256, (padding.PKCS1v15(), hashes.SHA256())
    return None, ()


def sign(body, signer_cert_pem, signer_key_pem):
    """The bundle document of ``body`` signed with the signer's key (PEM, str or bytes). Raises BundleError."""
    try:
        cert, key = pki.load_cert(_pem_bytes(signer_cert_pem)), pki.load_key(_pem_bytes(signer_key_pem))
    except pki.PKIError as error:
        raise BundleError("signature.signer", str(error))
    if not pki.key_matches_cert(key, cert):
        raise BundleError("signature.signer", "the signing key does not match the signer certificate %s"
                          % cert.subject.rfc4514_string())
    algorithm, arguments = _scheme(key)
    if algorithm is None:
        raise BundleError("signature.algorithm", "unsupported signing key type %s (ECDSA or RSA only)"
                          % pki.key_type_of(key))
    data = canonical(body)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        # the signed bytes read back: the document holds exactly what was signed (lists for tuples, a copy)
        "body": json.loads(data),
        "signature": {
            "algorithm": algorithm,
            "signer": pki.cert_to_pem(cert).decode("ascii"),
            "value": base64.b64encode(key.sign(data, *arguments)).decode("ascii"),
        },
    }


# --------------------------------------------------------------------------- verifying


def _check_header(document):
    if not isinstance(document, dict):
        raise BundleError("document", "not a mapping but %s" % _type_name(document))
    for field, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        if document.get(field) != wanted:
            raise BundleError(field, "is %r, expected %r" % (document.get(field), wanted))
    if not isinstance(document.get("body"), dict):
        raise BundleError("body", "not a mapping but %s" % _type_name(document.get("body")))
    signature = document.get("signature")
    if not isinstance(signature, dict):
        raise BundleError("signature", "not a mapping but %s" % _type_name(signature))
    for field in ("algorithm", "signer", "value"):
        if not isinstance(signature.get(field), str) or not signature[field]:
            raise BundleError("signature.%s" % field, "missing or not a string")
    if signature["algorithm"] not in ALGORITHMS:
        raise BundleError("signature.algorithm", "is %r, expected one of %s"
                          % (signature["algorithm"], ", ".join(ALGORITHMS)))
    return document["body"], signature


def _load_signer(signature):
    try:
        return pki.load_cert(_pem_bytes(signature["signer"]))
    except (pki.PKIError, UnicodeEncodeError) as error:
        raise BundleError("signature.signer", "not a PEM certificate (%s)" % error)


def _check_signature(body, signature, signer):
    public_key = signer.public_key()
    algorithm, arguments = _scheme(public_key)
    if algorithm != signature["algorithm"]:
        raise BundleError("signature.algorithm", "is %s but the signer's key is %s"
                          % (signature["algorithm"], pki.key_type_of(public_key)))
    try:
        value = base64.b64decode(signature["value"], validate=True)
    except (binascii.Error, ValueError):
        raise BundleError("signature.value", "not base64")
    try:
        data = canonical(body)
    except (TypeError, ValueError) as error:
        raise BundleError("body", "not JSON data: %s" % error)
    try:
        public_key.verify(value, data, *arguments)
    except InvalidSignature:
        raise BundleError("signature.value", "does not verify with the signer's key: the bundle was changed after "
                                             "signing, or it was signed by another key")


def _check_pin(signer_fingerprint, pinned, trust_on_first_use):
    if pinned is None:
        if trust_on_first_use:
            return
        raise BundleError("signature.signer", "the signer %s is not pinned: check this fingerprint with the issuer out "
                                              "of band and pin it (signer_fingerprint: %s), or allow trust on first use"
                          % (signer_fingerprint, signer_fingerprint))
    wanted = [normalize_fingerprint(one) for one in (pinned if isinstance(pinned, list) else [pinned])]
    if not wanted or None in wanted:
        raise BundleError("signature.signer", "the pinned fingerprint %r is not a SHA-256 fingerprint "
                                              "(sha256:<64 hex digits>), or a list of them" % (pinned,))
    if signer_fingerprint not in wanted:
        raise BundleError("signature.signer", "signed by %s, but the pinned signer is %s"
                          % (signer_fingerprint, " or ".join(wanted)))


def _check_party(body, field, wanted, preposition):
    if wanted is not None and body.get(field) != wanted:
        raise BundleError("body.%s" % field, "bundle is %s %s, not %s %s"
                          % (preposition, body.get(field), preposition, wanted))


def span(delta):
    """A duration in its largest whole unit: "3 days", "1 hour", "0 seconds"."""
    seconds = int(abs(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count = seconds // size
        if count or size == 1:
            return "%d %s%s" % (count, unit, "" if count == 1 else "s")


def _time_field(body, field):
    moment = parse_time(body.get(field))
    if moment is None:
        raise BundleError("body.%s" % field, "is %r, expected an ISO 8601 UTC time such as 2026-12-02T03:00:00Z"
                          % (body.get(field),))
    return moment


def _check_times(body, now):
    issued_at, expires_at = _time_field(body, "issued_at"), _time_field(body, "expires_at")
    if expires_at <= issued_at:
        raise BundleError("body.expires_at", "%s is not after issued_at %s"
                          % (format_time(expires_at), format_time(issued_at)))
    if issued_at - now > CLOCK_SKEW:
        raise BundleError("body.issued_at", "%s is %s in the future (more than the %s clock skew allowed)"
                          % (format_time(issued_at), span(issued_at - now), span(CLOCK_SKEW)))
    if now >= expires_at:
        raise BundleError("body.expires_at", "the bundle expired on %s, %s ago; ask %s for a new one"
                          % (format_time(expires_at), span(now - expires_at), body.get("issuer")))


def _check_cas(cas):
    if not isinstance(cas, list) or not cas:
        raise BundleError("body.cas", "expected a non-empty list of PEM CA certificates, got %s" % _type_name(cas))
    for index, pem in enumerate(cas):
        field = "body.cas[%d]" % index
        # pki.load_cert reads the first certificate only: a second one would pass unchecked
        if not isinstance(pem, str) or pem.count("-----BEGIN CERTIFICATE-----") != 1:
            raise BundleError(field, "not a PEM certificate (exactly one per entry)")
        try:
            cert = pki.load_cert(_pem_bytes(pem))
        except (pki.PKIError, UnicodeEncodeError) as error:
            raise BundleError(field, "not a PEM certificate (%s)" % error)
        if not pki.is_ca(cert):
            raise BundleError(field, "%s is not a CA certificate (basicConstraints CA:true, keyUsage keyCertSign)"
                              % cert.subject.rfc4514_string())


def verify(document, pinned=None, trust_on_first_use=False, recipient=None, issuer=None, now=None):
    """(body, signer fingerprint) of a bundle that can be used; raises BundleError naming the field at fault.

    ``pinned`` is the signer's fingerprint as given out of band; without it the bundle is refused unless
    ``trust_on_first_use`` (the caller then pins the returned fingerprint). ``now`` is an aware datetime.
    """
    body, signature = _check_header(document)
    signer = _load_signer(signature)
    _check_signature(body, signature, signer)
    signer_fingerprint = _cert_fingerprint(signer)
    _check_pin(signer_fingerprint, pinned, trust_on_first_use)
    _check_party(body, "issuer", issuer, "from")
    _check_party(body, "recipient", recipient, "for")
    now = now or pki.utcnow()
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.timezone.utc)
    _check_times(body, now)
    _check_cas(body.get("cas"))
    return body, signer_fingerprint
