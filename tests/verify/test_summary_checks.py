"""verify_summary on its own: every way a summary bundle can fail, without a registry.

Bundles are made with gate's own signer (as `gate check image --attest` makes them) and then
changed one field at a time; a keyless bundle from the sigstore-python vectors stands for a
certificate-signed one.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gate.attest._sign import sign_statement
from gate.config import from_mapping
from gate.errors import VerificationError
from gate.evidence._summary import VERIFICATION_SUMMARY, summary_predicate
from gate.verify import listed_verifiers, verify_summary
from tests.support.summaries import VERIFIER, write_key

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
DIGEST = "sha256:" + "a" * 64
POLICY = "sha256:" + "b" * 64
VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _statement(**changes: Any) -> dict[str, Any]:
    predicate = summary_predicate(
        verifier_id=changes.pop("verifier_id", VERIFIER),
        version="0.1.0",
        time_verified=changes.pop("time_verified", NOW - dt.timedelta(hours=1)),
        resource_uri=f"oci://registry.example/app@{DIGEST}",
        policy_digest=changes.pop("policy_digest", POLICY),
        inputs=(),
        passed=True,
        layers_scanned=True,
        platforms=changes.pop("platforms", [{"digest": DIGEST, "platform": None, "config": {}, "user": {}}]),
    )
    subject = changes.pop("subject", DIGEST)
    statement = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "app", "digest": {"sha256": subject.split(":")[1]}}],
                 "predicateType": changes.pop("predicate_type", VERIFICATION_SUMMARY), "predicate": predicate}
    return statement


@pytest.fixture(params=["p256", "p384", "ed25519", "rsa"])
def signer(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Path]:
    keys = {
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }
    key = keys[request.param]()
    _, public = write_key(tmp_path / "ci.key", key)
    return key, public


def _verifiers(public: Path, verifier_id: str = VERIFIER, max_age_hours: float = 24):
    config = from_mapping({"trust": {"verifiers": [{"key": str(public), "id": verifier_id, "max_age_hours": max_age_hours}]}})
    return listed_verifiers(config.trust)


def _sign(key: Any, statement: dict[str, Any]) -> bytes:
    return sign_statement(key, json.dumps(statement).encode())


def test_a_good_summary_verifies_with_every_key_type(signer: tuple[Any, Path]) -> None:
    key, public = signer
    verified = verify_summary(_sign(key, _statement()), "s", DIGEST, POLICY, _verifiers(public), NOW)
    assert verified.summary.verifier_id == VERIFIER and verified.summary.policy_digest == POLICY
    assert verified.report()["time_verified"] == "2026-06-01T11:00:00Z"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"subject": "sha256:" + "c" * 64}, "about another artifact"),
        ({"policy_digest": "sha256:" + "d" * 64}, "not the running policy"),
        ({"verifier_id": "https://other.example/gate"}, "its key is listed for"),
        ({"time_verified": NOW - dt.timedelta(hours=25)}, "older than max_age_hours 24"),
        ({"time_verified": NOW + dt.timedelta(hours=1)}, "in the future"),
        ({"predicate_type": "https://slsa.dev/provenance/v1"}, "not https://slsa.dev/verification_summary/v1"),
        ({"platforms": []}, "lists no platform image"),
    ],
)
def test_a_summary_failing_one_check_is_refused(change: dict[str, Any], reason: str, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _, public = write_key(tmp_path / "ci.key", key)
    with pytest.raises(VerificationError, match=reason):
        verify_summary(_sign(key, _statement(**change)), "s", DIGEST, POLICY, _verifiers(public), NOW)


def test_a_summary_signed_by_another_key_or_altered_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _, public = write_key(tmp_path / "ci.key", key)
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(VerificationError, match="verifies under no trust.verifiers key"):
        verify_summary(_sign(stranger, _statement()), "s", DIGEST, POLICY, _verifiers(public), NOW)
    bundle = json.loads(_sign(key, _statement()))
    bundle["dsseEnvelope"]["payloadType"] = "application/json"
    with pytest.raises(VerificationError, match="verifies under no trust.verifiers key"):
        verify_summary(json.dumps(bundle).encode(), "s", DIGEST, POLICY, _verifiers(public), NOW)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda b: b.update(verificationMaterial={"certificate": {"rawBytes": "AAAA"}, "tlogEntries": []}), "not valid|not a certificate|listed verifier key"),
        (lambda b: b["dsseEnvelope"]["signatures"].append(b["dsseEnvelope"]["signatures"][0]), "exactly one signature"),
        (lambda b: b.pop("dsseEnvelope"), "not a valid Sigstore bundle|no DSSE envelope"),
    ],
)
def test_a_bundle_of_the_wrong_shape_is_refused(edit: Any, reason: str, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _, public = write_key(tmp_path / "ci.key", key)
    bundle = json.loads(_sign(key, _statement()))
    edit(bundle)
    with pytest.raises(VerificationError, match=reason):
        verify_summary(json.dumps(bundle).encode(), "s", DIGEST, POLICY, _verifiers(public), NOW)


def test_a_certificate_bundle_is_not_a_summary(tmp_path: Path) -> None:
    """A genuine keyless bundle (sigstore-conformance) is refused before anything else: summaries are keyed."""
    _, public = write_key(tmp_path / "ci.key", ec.generate_private_key(ec.SECP256R1()))
    bundle = (VECTORS / "sigstore-conformance" / "happy-path-intoto-in-dsse-v3" / "bundle.sigstore.json").read_bytes()
    with pytest.raises(VerificationError, match="listed verifier key, not a certificate"):
        verify_summary(bundle, "s", DIGEST, POLICY, _verifiers(public), NOW)
