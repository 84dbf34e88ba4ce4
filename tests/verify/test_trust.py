"""TrustPolicy: loading from config, the offline default root, key ids, and the public surface."""

from __future__ import annotations

import hashlib
import socket
import textwrap

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import gate.verify
from gate.config import KeylessIdentity, from_mapping
from gate.errors import ConfigError
from gate.evidence._signatures import SigstoreBundle
from gate.verify import TrustPolicy, key_id, verify_bundle
from tests.support.sigstore_double import SigstoreInstanceDouble, pem_public
from tests.verify._vectors import NOW, VECTORS, load_index, sha256_of


def test_from_config_reads_keys_identities_and_root(tmp_path) -> None:
    double = SigstoreInstanceDouble()
    private = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "cosign.pub").write_bytes(pem_public(private))
    (tmp_path / "root.json").write_bytes(double.trusted_root_json())
    config = from_mapping(
        {
            "trust": {
                "keys": ["cosign.pub"],
                "keyless": [{"issuer": "https://accounts.example", "subject": "a@example.com"}],
                "trusted_root": "root.json",
                "require_tlog": False,
            }
        },
        base_dir=tmp_path,
    )
    trust = TrustPolicy.from_config(config.trust)
    assert [key.key_id for key in trust.keys] == [key_id(private.public_key())]
    assert trust.identities == (KeylessIdentity(issuer="https://accounts.example", subject="a@example.com"),)
    assert trust.require_tlog is False
    assert trust.fulcio_certificates[0] == double.intermediate


def test_key_id_is_sha256_of_spki_and_ignores_pem_formatting() -> None:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = pem_public(public)
    rewrapped = b"\n".join(line for line in pem.splitlines()) + b"\n\n"
    first = TrustPolicy.from_parts(keys=[("a", pem)]).keys[0].key_id
    second = TrustPolicy.from_parts(keys=[("b", rewrapped)]).keys[0].key_id
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert first == second == hashlib.sha256(spki).hexdigest()[:16]


def test_bad_trusted_root_and_bad_key_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="trusted root"):
        TrustPolicy.from_parts(trusted_root_json=b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=99"}')
    with pytest.raises(ConfigError, match="PEM public key"):
        TrustPolicy.from_parts(keys=[("junk", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")])


def test_default_root_is_the_shipped_public_good_root_and_needs_no_network(monkeypatch) -> None:
    """A production bundle verifies with the default trust while every socket connect fails."""

    def refuse(*args, **kwargs):
        raise AssertionError("verification tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    case = next(case for case in load_index("sigstore-conformance/cases.json") if case["name"] == "happy-path-v0.3")
    folder = VECTORS / "sigstore-conformance"
    trust = TrustPolicy.from_parts(identities=[KeylessIdentity(issuer=case["certificate_oidc_issuer"], subject=case["certificate_identity"])])
    bundle = SigstoreBundle.from_bytes((folder / case["bundle"]).read_bytes(), source=case["name"])
    result = verify_bundle(bundle, trust, NOW, artifact_digest=sha256_of(folder / case["artifact_or_digest"]))
    assert result.signer.subject == case["certificate_identity"]


def test_public_surface_is_pinned() -> None:
    assert sorted(gate.verify.__all__) == sorted(
        textwrap.dedent(
            """
            AttestationTrust BundleResult ImageScope ListedVerifier ReferenceMatch SignatureCheck TrustPolicy TrustedKey VerifiedSigner
            VerifiedStatement VerifiedSummary
            attestation_trust covered_digests entry_fact image_scope key_id listed_verifiers signatures_fact trusted_coverage
            verify_attached_signatures verify_attestation verify_bundle verify_image_signatures verify_summary
            """
        ).split()
    )
