"""Each verification check on its own: one field wrong, everything else right, and the check refuses.

The end-to-end tampering tests break several things at once, so a check that another one happens to
shadow could be deleted unnoticed. Here every check of the Rekor binding (CVE-2022-36056 class),
the signing time, the transparency-log requirement, the Fulcio profile and what a payload is about
gets a case where it alone stands between a tampered artefact and "verified". scripts/mutation.py
(`make mutation`) breaks each check in turn and expects these tests to fail.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.errors import VerificationError
from gate.evidence._signatures import ANNOTATION_BUNDLE, SigstoreBundle, StoredLayer, parse_signature_layers
from gate.verify import verify_image_signatures
from gate.verify._certs import check_validity, verify_fulcio_certificate
from gate.verify._coverage import covered_digests, trusted_coverage
from gate.verify._image_signatures import _image_bundle
from gate.verify._model import SignatureCheck, VerifiedSigner
from gate.verify._statement import in_toto_statement, simple_signing_claim
from gate.verify._tlog import check_binding, integrated_at
from tests.support.sigstore_double import (
    IN_TOTO,
    Keyed,
    Keyless,
    SigstoreInstanceDouble,
    dsse_body,
    hashedrekord,
    intoto_body,
    pem_public,
    sign_bytes,
    simple_signing,
    statement,
)
from tests.verify.test_signatures_double import IMAGE, ISSUER, NOW, SIGNER, SUBJECT, only, trust_for

PAYLOAD = b'{"an": "artifact"}'
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def _body(document: dict) -> bytes:
    return json.dumps(document).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- the Rekor entry must record this signature, this signer and this payload --------------------

def _intoto(payload: bytes, signature: bytes, verifier_pem: bytes) -> dict:
    envelope = {"payloadType": IN_TOTO, "payload": _b64(payload), "signatures": [{"sig": _b64(signature)}]}
    return intoto_body(envelope, payload, signature, verifier_pem)


ENTRY_KINDS = {"hashedrekord": hashedrekord, "dsse": dsse_body, "intoto": _intoto}


@pytest.mark.parametrize("kind", sorted(ENTRY_KINDS))
def test_an_entry_recording_this_signature_signer_and_payload_binds(key, kind: str) -> None:
    signature = sign_bytes(key, PAYLOAD)
    body = _body(ENTRY_KINDS[kind](PAYLOAD, signature, pem_public(key)))
    check_binding(body, signature=signature, signer=key.public_key(), digest=hashlib.sha256(PAYLOAD).hexdigest())


@pytest.mark.parametrize("field", ["hash", "signature", "key"])
@pytest.mark.parametrize("kind", sorted(ENTRY_KINDS))
def test_an_entry_differing_in_one_field_is_refused(key, kind: str, field: str) -> None:
    signature = sign_bytes(key, PAYLOAD)
    make = ENTRY_KINDS[kind]
    recorded = {
        "hash": make(b"another payload", signature, pem_public(key)),
        "signature": make(PAYLOAD, sign_bytes(key, b"another payload"), pem_public(key)),
        "key": make(PAYLOAD, signature, pem_public(OTHER_KEY)),
    }[field]
    with pytest.raises(VerificationError, match="records another signature, signer or payload"):
        check_binding(_body(recorded), signature=signature, signer=key.public_key(), digest=hashlib.sha256(PAYLOAD).hexdigest())


def test_entry_recording_another_certificate_of_the_same_identity_is_refused(double) -> None:
    _, certificate = double.issue(SIGNER, NOW)
    _, other = double.issue(SIGNER, NOW)  # same subject and issuer, another key and serial
    signature = b"signature"
    body = hashedrekord(PAYLOAD, signature, other.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(VerificationError, match="records another"):
        check_binding(_body(body), signature=signature, signer=certificate, digest=hashlib.sha256(PAYLOAD).hexdigest())


def test_entry_recording_a_certificate_for_a_keyed_signer_compares_the_certificate_key(double) -> None:
    key, certificate = double.issue(SIGNER, NOW)
    signature = sign_bytes(key, PAYLOAD)
    body = _body(hashedrekord(PAYLOAD, signature, certificate.public_bytes(serialization.Encoding.PEM)))
    check_binding(body, signature=signature, signer=key.public_key(), digest=hashlib.sha256(PAYLOAD).hexdigest())
    with pytest.raises(VerificationError, match="records another"):
        check_binding(body, signature=signature, signer=OTHER_KEY.public_key(), digest=hashlib.sha256(PAYLOAD).hexdigest())


def test_an_entry_kind_gate_does_not_read_is_refused(key) -> None:
    signature = sign_bytes(key, PAYLOAD)
    body = {**hashedrekord(PAYLOAD, signature, pem_public(key)), "kind": "rekord"}
    with pytest.raises(VerificationError, match="unsupported Rekor entry kind rekord"):
        check_binding(_body(body), signature=signature, signer=key.public_key(), digest=hashlib.sha256(PAYLOAD).hexdigest())


def test_legacy_keyless_signature_with_another_signatures_log_entry_is_invalid(double) -> None:
    """The borrowed entry's SET is genuine and its time fits the certificate: only the binding refuses."""
    first = double.sign_legacy(simple_signing(IMAGE), SIGNER, NOW)
    second = double.sign_legacy(simple_signing(IMAGE), SIGNER, NOW)
    swapped = StoredLayer(first.media_type, {**first.annotations, ANNOTATION_BUNDLE: second.annotations[ANNOTATION_BUNDLE]}, first.data, "swapped")
    check = only(verify_image_signatures(IMAGE, parse_signature_layers([swapped]), trust_for(double), NOW))
    assert check.status == "invalid" and "records another" in check.reason


def test_keyed_bundle_with_another_signatures_log_entry_is_invalid(double, key) -> None:
    first = json.loads(double.bundle(statement(IMAGE), Keyed(key), NOW))
    second = json.loads(double.bundle(statement(IMAGE, predicate={"another": "statement"}), Keyed(key), NOW))
    first["verificationMaterial"]["tlogEntries"] = second["verificationMaterial"]["tlogEntries"]
    bundle = SigstoreBundle.from_bytes(json.dumps(first).encode(), source="swapped")
    check = only(verify_image_signatures(IMAGE, [bundle], trust_for(double, keys=[key]), NOW))
    assert check.status == "invalid" and "records another" in check.reason


def test_keyed_bundle_with_a_broken_inclusion_proof_is_invalid(double, key) -> None:
    document = json.loads(double.bundle(statement(IMAGE), Keyed(key), NOW))
    proof = document["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["rootHash"] = _b64(hashlib.sha256(b"another tree").digest())
    check = only(verify_image_signatures(IMAGE, [SigstoreBundle.from_bytes(json.dumps(document).encode(), source="p")], trust_for(double, keys=[key]), NOW))
    assert check.status == "invalid"


def test_legacy_keyed_set_from_another_log_key_is_invalid(key) -> None:
    double = SigstoreInstanceDouble()
    impostor = SigstoreInstanceDouble(root_key=double.root_key, intermediate_key=double.intermediate_key, ct_key=double.ct_key)
    layer = impostor.sign_legacy(simple_signing(IMAGE), Keyed(key), NOW)
    check = only(verify_image_signatures(IMAGE, parse_signature_layers([layer]), trust_for(double, keys=[key]), NOW))
    assert check.status == "invalid" and "signed entry timestamp" in check.reason


# -- the signing time ----------------------------------------------------------------------------

def test_signing_time_must_lie_inside_the_certificate_validity(double) -> None:
    _, certificate = double.issue(SIGNER, NOW)
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    check_validity(certificate, start, "t")
    check_validity(certificate, end, "t")
    for outside in (start - dt.timedelta(seconds=1), end + dt.timedelta(seconds=1)):
        with pytest.raises(VerificationError, match="outside the signing certificate's validity"):
            check_validity(certificate, outside, "t")


def test_integrated_time_later_than_now_plus_skew_is_refused() -> None:
    assert integrated_at(int(NOW.timestamp()) + 60, NOW) > NOW
    with pytest.raises(VerificationError, match="in the future"):
        integrated_at(int((NOW + dt.timedelta(hours=1)).timestamp()), NOW)


def test_keyless_bundle_logged_in_the_future_is_invalid(double) -> None:
    """The certificate is valid at the (future) log time, so only the future-time check refuses it."""
    later = NOW + dt.timedelta(days=1)
    bundle = SigstoreBundle.from_bytes(double.bundle(statement(IMAGE), SIGNER, later), source="future")
    check = only(verify_image_signatures(IMAGE, [bundle], trust_for(double), NOW))
    assert check.status == "invalid" and "future" in check.reason
    assert only(verify_image_signatures(IMAGE, [bundle], trust_for(double), later)).ok


# -- a transparency-log entry when require_tlog ----------------------------------------------------

def test_keyed_bundle_without_log_entry_needs_require_tlog_false(double, key) -> None:
    bundle = SigstoreBundle.from_bytes(double.bundle(statement(IMAGE), Keyed(key), NOW, tlog=False), source="unlogged")
    refused = only(verify_image_signatures(IMAGE, [bundle], trust_for(double, keys=[key]), NOW))
    assert refused.status == "invalid" and "require_tlog" in refused.reason
    assert only(verify_image_signatures(IMAGE, [bundle], trust_for(double, keys=[key], require_tlog=False), NOW)).ok


# -- Fulcio's certificate profile -------------------------------------------------------------------

def _chain_check(double: SigstoreInstanceDouble, signer: Keyless) -> None:
    _, certificate = double.issue(signer, NOW)
    verify_fulcio_certificate(certificate, [double.intermediate], NOW, trust_for(double))


def test_fulcio_certificate_of_the_profile_passes(double) -> None:
    _chain_check(double, SIGNER)


def test_certificate_without_code_signing_usage_is_refused(double) -> None:
    with pytest.raises(VerificationError, match="not for code signing"):
        _chain_check(double, Keyless(SUBJECT, ISSUER, code_signing=False))


def test_certificate_without_digital_signature_usage_is_refused(double) -> None:
    with pytest.raises(VerificationError, match="not for code signing"):
        _chain_check(double, Keyless(SUBJECT, ISSUER, digital_signature=False))


def test_certificate_without_embedded_sct_is_refused(double) -> None:
    with pytest.raises(VerificationError, match="SCT"):
        _chain_check(double, Keyless(SUBJECT, ISSUER, sct=False))


@pytest.mark.parametrize("layout", ["cosign-legacy", "sigstore-bundle"])
def test_signature_by_a_client_auth_certificate_is_invalid(double, layout) -> None:
    from tests.verify.test_signatures_double import sign

    check = only(verify_image_signatures(IMAGE, sign(double, layout, Keyless(SUBJECT, ISSUER, code_signing=False)), trust_for(double), NOW))
    assert check.status == "invalid"


# -- what the signed payload is about ---------------------------------------------------------------

def test_simple_signing_payload_of_another_type_is_refused(double) -> None:
    document = json.loads(simple_signing(IMAGE))
    document["critical"]["type"] = "atomic container signature"
    payload = json.dumps(document).encode()
    with pytest.raises(VerificationError, match="not a cosign container image signature"):
        simple_signing_claim(payload, "sig")
    layer = double.sign_legacy(payload, SIGNER, NOW)
    check = only(verify_image_signatures(IMAGE, parse_signature_layers([layer]), trust_for(double), NOW))
    assert check.status == "invalid" and "type" in check.reason


def test_dsse_payload_that_is_not_in_toto_is_refused() -> None:
    payload = json.dumps(statement(IMAGE)).encode()
    assert in_toto_statement(IN_TOTO, payload, "att").covers(IMAGE)
    with pytest.raises(VerificationError, match="DSSE payload type"):
        in_toto_statement("application/json", payload, "att")


def test_verified_attestation_bundle_is_not_an_image_signature(double) -> None:
    """Even when a caller hands it over as one, a SLSA statement signed by a trusted identity is no signature."""
    provenance = SigstoreBundle.from_bytes(double.bundle(statement(IMAGE, "https://slsa.dev/provenance/v1"), SIGNER, NOW), source="slsa")
    with pytest.raises(VerificationError, match="predicateType"):
        _image_bundle(provenance, IMAGE, trust_for(double), NOW)
    signature = SigstoreBundle.from_bytes(double.bundle(statement(IMAGE), SIGNER, NOW), source="sign")
    assert _image_bundle(signature, IMAGE, trust_for(double), NOW).subject == SUBJECT



# -- what a verified signature covers -------------------------------------------------------------

INDEX_DIGEST, AMD64, ARM64 = ("sha256:" + c * 64 for c in "abc")
INDEX = {
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"digest": AMD64, "platform": {"os": "linux", "architecture": "amd64"}},
                  {"digest": ARM64, "platform": {"os": "linux", "architecture": "arm64"}}],
}
PLATFORM_MANIFEST = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}


def _check(digest: str, status: str) -> SignatureCheck:
    signer = VerifiedSigner(kind="key", layout="cosign-legacy", key_id="k") if status == "verified" else None
    return SignatureCheck(source="s", layout="cosign-legacy", status=status, digest=digest, signer=signer)  # type: ignore[arg-type]


def test_an_index_signature_covers_its_platforms_and_a_platform_signature_only_itself() -> None:
    assert covered_digests(INDEX_DIGEST, INDEX) == {INDEX_DIGEST, AMD64, ARM64}
    assert covered_digests(AMD64, PLATFORM_MANIFEST) == {AMD64}
    assert covered_digests(AMD64, None) == {AMD64}


def test_a_platform_manifest_listing_manifests_covers_nothing_more_unless_it_is_an_index() -> None:
    """Only an index (by media type, or by carrying `manifests`) extends a signature to children."""
    assert covered_digests(AMD64, {**PLATFORM_MANIFEST, "manifests": [{"digest": ARM64}]}) == {AMD64, ARM64}
    assert covered_digests(AMD64, {"mediaType": "application/vnd.oci.image.manifest.v1+json"}) == {AMD64}


@pytest.mark.parametrize("status", ["invalid", "untrusted"])
def test_a_failed_signature_check_covers_nothing(status: str) -> None:
    manifests = {INDEX_DIGEST: INDEX}
    assert not trusted_coverage([_check(INDEX_DIGEST, status)], manifests)
    assert set(trusted_coverage([_check(INDEX_DIGEST, status), _check(AMD64, "verified")], manifests)) == {AMD64}
