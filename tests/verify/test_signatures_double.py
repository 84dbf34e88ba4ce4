"""Image signatures made by the test Sigstore instance (``SigstoreInstanceDouble``), in every layout.

Each layout is signed keyless and keyed and must verify; each tampering must become one failed
:class:`SignatureCheck` with the right status and reason, never an exception.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gate.config import KeylessIdentity
from gate.evidence._signatures import SigstoreBundle, StoredLayer, parse_signature_layers
from gate.verify import SignatureCheck, TrustPolicy, signatures_fact, verify_image_signatures
from tests.support.sigstore_double import Keyed, Keyless, SigstoreInstanceDouble, pem_public, simple_signing, statement

NOW = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.timezone.utc)
IMAGE = "sha256:" + "1" * 64
OTHER = "sha256:" + "2" * 64
ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "https://github.com/acme/api/.github/workflows/release.yml@refs/heads/main"
SIGNER = Keyless(SUBJECT, ISSUER)


def trust_for(double: SigstoreInstanceDouble, *, keys=(), identities=None, require_tlog=True) -> TrustPolicy:
    if identities is None:
        identities = [KeylessIdentity(issuer=ISSUER, subject_regex=r"^https://github\.com/acme/.+$")]
    return TrustPolicy.from_parts(
        keys=[(f"key{i}", pem_public(k)) for i, k in enumerate(keys)],
        identities=identities,
        trusted_root_json=double.trusted_root_json(),
        require_tlog=require_tlog,
    )


def sign(double: SigstoreInstanceDouble, layout: str, signer, digest: str = IMAGE, **options) -> list:
    if layout == "cosign-legacy":
        return parse_signature_layers([double.sign_legacy(simple_signing(digest), signer, NOW, **options)])
    return [SigstoreBundle.from_bytes(double.bundle(statement(digest), signer, NOW, **options), source="referrer")]


def only(checks: list[SignatureCheck]) -> SignatureCheck:
    assert len(checks) == 1
    return checks[0]


LAYOUTS = ["cosign-legacy", "sigstore-bundle"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_keyless_signature_verifies(double, layout) -> None:
    check = only(verify_image_signatures(IMAGE, sign(double, layout, SIGNER), trust_for(double), NOW))
    assert check.ok, check.reason
    assert (check.signer.kind, check.signer.issuer, check.signer.subject, check.signer.layout) == ("keyless", ISSUER, SUBJECT, layout)
    assert check.signer.name == f"{ISSUER} {SUBJECT}"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "make_key",
    [lambda: ec.generate_private_key(ec.SECP256R1()), lambda: ec.generate_private_key(ec.SECP384R1()), ed25519.Ed25519PrivateKey.generate,
     lambda: rsa.generate_private_key(65537, 2048)],
    ids=["p256", "p384", "ed25519", "rsa"],
)
def test_keyed_signature_verifies(double, layout, make_key) -> None:
    private = make_key()
    trust = trust_for(double, keys=[private], identities=[])
    check = only(verify_image_signatures(IMAGE, sign(double, layout, Keyed(private)), trust, NOW))
    assert check.ok, check.reason
    assert check.signer.kind == "key" and check.signer.key_id == trust.keys[0].key_id and len(check.signer.key_id) == 16


@pytest.mark.parametrize("layout", LAYOUTS)
def test_signature_for_another_digest_is_invalid(double, layout) -> None:
    check = only(verify_image_signatures(IMAGE, sign(double, layout, SIGNER, digest=OTHER), trust_for(double), NOW))
    assert check.status == "invalid"
    assert OTHER in check.reason or "another artifact" in check.reason


@pytest.mark.parametrize("layout", LAYOUTS)
def test_wrong_identity_is_untrusted_and_named(double, layout) -> None:
    intruder = Keyless("https://github.com/mallory/api/.github/workflows/x.yml@refs/heads/main", ISSUER)
    check = only(verify_image_signatures(IMAGE, sign(double, layout, intruder), trust_for(double), NOW))
    assert check.status == "untrusted"
    assert check.found == f"{ISSUER} {intruder.subject}"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_wrong_issuer_is_untrusted(double, layout) -> None:
    check = only(verify_image_signatures(IMAGE, sign(double, layout, Keyless(SUBJECT, "https://accounts.google.com")), trust_for(double), NOW))
    assert check.status == "untrusted"
    assert check.found.startswith("https://accounts.google.com ")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_expired_certificate_is_invalid(double, layout) -> None:
    expired = Keyless(SUBJECT, ISSUER, not_before=NOW - dt.timedelta(hours=2))
    check = only(verify_image_signatures(IMAGE, sign(double, layout, expired), trust_for(double), NOW))
    assert check.status == "invalid"
    assert "validity" in check.reason or "not valid" in check.reason or "expired" in check.reason


@pytest.mark.parametrize("layout", LAYOUTS)
def test_integrated_time_before_certificate_is_invalid(double, layout) -> None:
    checks = verify_image_signatures(IMAGE, sign(double, layout, SIGNER, log_time=NOW - dt.timedelta(hours=1)), trust_for(double), NOW)
    assert only(checks).status == "invalid"


def test_corrupted_inclusion_proof_is_invalid(double) -> None:
    document = json.loads(double.bundle(statement(IMAGE), SIGNER, NOW))
    proof = document["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["rootHash"] = "A" * 43 + "="
    bundle = SigstoreBundle.from_bytes(json.dumps(document).encode(), source="referrer")
    check = only(verify_image_signatures(IMAGE, [bundle], trust_for(double), NOW))
    assert check.status == "invalid" and "inclusion proof" in check.reason


def test_corrupted_inclusion_proof_of_keyed_bundle_is_invalid(double, key) -> None:
    document = json.loads(double.bundle(statement(IMAGE), Keyed(key), NOW))
    document["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"].append("A" * 43 + "=")
    bundle = SigstoreBundle.from_bytes(json.dumps(document).encode(), source="referrer")
    check = only(verify_image_signatures(IMAGE, [bundle], trust_for(double, keys=[key]), NOW))
    assert check.status == "invalid" and "inclusion proof" in check.reason


@pytest.mark.parametrize("layout", LAYOUTS)
def test_untrusted_key_is_untrusted(double, key, layout) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    check = only(verify_image_signatures(IMAGE, sign(double, layout, Keyed(stranger)), trust_for(double, keys=[key]), NOW))
    assert check.status == "untrusted" and check.found == "an unconfigured key"


def test_garbage_sig_payload_is_invalid_not_a_crash(double, key) -> None:
    layer = double.sign_legacy(b"\x00\xffnot json at all", Keyed(key), NOW)
    check = only(verify_image_signatures(IMAGE, parse_signature_layers([layer]), trust_for(double, keys=[key]), NOW))
    assert check.status == "invalid" and "simple-signing" in check.reason


def test_garbage_sig_annotations_are_malformed_not_a_crash(double) -> None:
    layers = [
        StoredLayer("application/vnd.dev.cosign.simplesigning.v1+json", {"dev.cosignproject.cosign/signature": "%%%"}, b"{}", "bad-base64"),
        StoredLayer("application/vnd.dev.cosign.simplesigning.v1+json", {}, b"{}", "no-signature"),
        StoredLayer(
            "application/vnd.dev.cosign.simplesigning.v1+json",
            {"dev.cosignproject.cosign/signature": "AAAA", "dev.sigstore.cosign/bundle": "{not json"},
            b"{}",
            "bad-set",
        ),
        StoredLayer("application/vnd.dev.sigstore.bundle.v0.3+json", {}, b"[1, 2]", "bad-bundle"),
    ]
    checks = verify_image_signatures(IMAGE, parse_signature_layers(layers), trust_for(double), NOW)
    assert [check.source for check in checks] == ["bad-base64", "no-signature", "bad-set", "bad-bundle"]
    assert all(check.status == "invalid" and check.reason.startswith("malformed") for check in checks)


def test_tampered_set_and_missing_tlog(double, key) -> None:
    layer = double.sign_legacy(simple_signing(IMAGE), Keyed(key), NOW)
    bundle = json.loads(layer.annotations["dev.sigstore.cosign/bundle"])
    bundle["Payload"]["integratedTime"] += 1
    tampered = StoredLayer(layer.media_type, {**layer.annotations, "dev.sigstore.cosign/bundle": json.dumps(bundle)}, layer.data, "tampered-set")
    unlogged = double.sign_legacy(simple_signing(IMAGE), Keyed(key), NOW, tlog=False)
    checks = verify_image_signatures(IMAGE, parse_signature_layers([tampered, unlogged]), trust_for(double, keys=[key]), NOW)
    assert [check.status for check in checks] == ["invalid", "invalid"]
    assert "signed entry timestamp" in checks[0].reason
    assert "require_tlog" in checks[1].reason
    relaxed = verify_image_signatures(IMAGE, parse_signature_layers([unlogged]), trust_for(double, keys=[key], require_tlog=False), NOW)
    assert only(relaxed).ok


def test_set_of_another_signature_is_rejected(double, key) -> None:
    first = double.sign_legacy(simple_signing(IMAGE), Keyed(key), NOW)
    second = double.sign_legacy(simple_signing(IMAGE, "127.0.0.1:5000/other"), Keyed(key), NOW)
    swapped = StoredLayer(first.media_type, {**first.annotations, "dev.sigstore.cosign/bundle": second.annotations["dev.sigstore.cosign/bundle"]}, first.data, "swapped")
    check = only(verify_image_signatures(IMAGE, parse_signature_layers([swapped]), trust_for(double, keys=[key]), NOW))
    assert check.status == "invalid" and "records another" in check.reason


def test_keyless_legacy_without_set_is_invalid(double) -> None:
    layer = double.sign_legacy(simple_signing(IMAGE), SIGNER, NOW, tlog=False)
    check = only(verify_image_signatures(IMAGE, parse_signature_layers([layer]), trust_for(double), NOW))
    assert check.status == "invalid" and "no Rekor entry" in check.reason


@pytest.mark.parametrize("layout", LAYOUTS)
def test_certificate_from_another_ca_is_invalid(double, layout) -> None:
    foreign = SigstoreInstanceDouble(rekor_key=double.rekor_key, ct_key=double.ct_key)  # same logs, other CA
    check = only(verify_image_signatures(IMAGE, sign(foreign, layout, SIGNER), trust_for(double), NOW))
    assert check.status == "invalid" and "chain" in check.reason


def test_integrated_time_in_the_future_is_invalid(double, key) -> None:
    later = NOW + dt.timedelta(hours=1)
    layer = double.sign_legacy(simple_signing(IMAGE), Keyed(key), later)
    check = only(verify_image_signatures(IMAGE, parse_signature_layers([layer]), trust_for(double, keys=[key]), NOW))
    assert check.status == "invalid" and "future" in check.reason


def test_attestations_are_not_counted_as_signatures(double) -> None:
    provenance = SigstoreBundle.from_bytes(double.bundle(statement(IMAGE, "https://slsa.dev/provenance/v1"), SIGNER, NOW), source="slsa")
    attestation = double.attest_legacy(statement(IMAGE, "https://slsa.dev/provenance/v1"), SIGNER, NOW)
    broken = StoredLayer(attestation.media_type, attestation.annotations, b"{not json", "broken.att")
    artifacts = [provenance, *parse_signature_layers([attestation, broken])]
    assert len(artifacts) == 3
    assert verify_image_signatures(IMAGE, artifacts, trust_for(double), NOW) == []


def test_signatures_fact_shape(double, key) -> None:
    checks = verify_image_signatures(
        IMAGE, sign(double, "cosign-legacy", Keyed(key)) + sign(double, "sigstore-bundle", SIGNER, digest=OTHER), trust_for(double, keys=[key]), NOW
    )
    fact = signatures_fact(checks)
    assert fact["found"] == 2
    assert fact["verified"] == [
        {"kind": "key", "signer": f"key:{checks[0].signer.key_id}", "key_id": checks[0].signer.key_id, "issuer": None, "subject": None,
         "extensions": {}, "authorities": ["trust.keys[0]"], "authority": "trust.keys[0]", "layout": "cosign-legacy"}
    ]
    assert [(item["layout"], item["signer"]) for item in fact["rejected"]] == [("sigstore-bundle", None)]
    assert "another artifact" in fact["rejected"][0]["reason"]


def _mutations(value, rng: random.Random):
    """One random structural change somewhere inside a JSON value (nested base64/JSON strings too)."""
    if isinstance(value, dict) and value:
        key, copy = rng.choice(sorted(value)), dict(value)
        choice = rng.random()
        if choice < 0.15:
            del copy[key]
        elif choice < 0.3:
            copy[key] = rng.choice([None, -1, 10**25, "", [], {}, "x"])
        else:
            copy[key] = _mutations(copy[key], rng)
        return copy
    if isinstance(value, list) and value:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = _mutations(copy[index], rng)
        return copy
    if isinstance(value, str):
        for decode, encode in ((lambda s: json.loads(base64.b64decode(s, validate=True)), lambda v: base64.b64encode(json.dumps(v).encode()).decode()),
                               (json.loads, json.dumps)):
            try:
                return encode(_mutations(decode(value), rng))
            except (ValueError, TypeError):
                continue
        index = rng.randrange(len(value) + 1)
        return value[:index] + rng.choice(["A", "/", "{", "\x00", ""]) + value[index + 1 :]
    if isinstance(value, int) and not isinstance(value, bool):
        return rng.choice([0, -1, 10**25, value + 1])
    return value


def test_hostile_inputs_never_raise(double, key) -> None:
    """Random corruption of every field (SET integers beyond JSON's range, broken certificates,
    truncated proofs, ...) always ends as failed checks, never as an exception."""
    rng = random.Random(20261126)
    trust = trust_for(double, keys=[key])
    layers = [double.sign_legacy(simple_signing(IMAGE), SIGNER, NOW), double.sign_legacy(simple_signing(IMAGE), Keyed(key), NOW)]
    bundles = [json.loads(double.bundle(statement(IMAGE), SIGNER, NOW)), json.loads(double.bundle(statement(IMAGE), Keyed(key), NOW))]
    for _ in range(300):
        layer = rng.choice(layers)
        annotations = {name: text if isinstance(text, str) else json.dumps(text) for name, text in _mutations(dict(layer.annotations), rng).items()}
        corrupted = StoredLayer(layer.media_type, annotations, layer.data, "fuzzed")
        bundle = StoredLayer("application/vnd.dev.sigstore.bundle.v0.3+json", {}, json.dumps(_mutations(rng.choice(bundles), rng)).encode(), "fuzzed")
        for check in verify_image_signatures(IMAGE, parse_signature_layers([corrupted, bundle]), trust, NOW):
            assert check.status in ("verified", "untrusted", "invalid")
