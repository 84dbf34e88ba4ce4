"""Legacy cosign signatures from containers/image, cosign and Connaisseur give their indexed result.

Vectors: vectors/cosign/index.json (containers/image df7e80d2 signature fixtures, cosign d6d86c22
``oci-attestation.sigstore.json``, Connaisseur 0c40cab1 mock registry). Each case's policy maps to
gate's trust: ``keyPath(s)`` -> trust keys; ``fulcio`` -> the CA certificates plus an identity
(issuer + email) over the production CT logs; ``rekorPublicKeyPath`` -> the only Rekor key and
``require_tlog``; ``signedIdentity`` -> :class:`ReferenceMatch`. MUTATION cases change the stored
signature in memory as described. BYO-PKI (``pki``) is not a gate trust model: those certificates
carry no SCT and no log entry, so gate must refuse them; cases expecting a pass are skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gate.config import KeylessIdentity
from gate.errors import GateError, VerificationError
from gate.evidence._signatures import CosignMaterial, RekorSET, SigstoreBundle, StoredLayer, parse_signature_layers
from gate.verify import ReferenceMatch, TrustPolicy, verify_attestation, verify_image_signatures
from gate.verify._cosign_layers import verify_material
from gate.verify._tlog import verify_set
from tests.support.sigstore_double import trusted_root_document
from tests.verify._vectors import NOW, VECTORS, load_index

FOLDER = VECTORS / "cosign"
INDEX = load_index("cosign/index.json")
PRODUCTION = json.loads((VECTORS / "sigstore-conformance/trusted_root.production.json").read_text())
NO_MANIFEST = "sha256:" + "0" * 64  # the image manifest cannot be read: nothing a signature can name


def _root(*, cas: list[x509.Certificate] | None = None, rekor: list[Any] | None = None) -> bytes:
    """The production root with its CAs and/or Rekor keys replaced (CT logs stay production's)."""
    document = dict(PRODUCTION)
    if cas is not None or rekor is not None:
        replaced = trusted_root_document(ca_chains=[cas] if cas else [], tlog_keys=rekor or [], ct_keys=[])
        if cas is not None:
            document["certificateAuthorities"] = replaced["certificateAuthorities"]
        if rekor is not None:
            document["tlogs"] = replaced["tlogs"]
    return json.dumps(document).encode()


def _pem(relative: str) -> bytes:
    return (FOLDER / relative).read_bytes()


def _layer(relative: str, mutation: dict | None = None) -> StoredLayer:
    document = json.loads(_pem(relative))
    annotations = dict(document["annotations"])
    mutation = mutation or {}
    if "remove_annotation" in mutation:
        annotations.pop(mutation["remove_annotation"], None)
    if "set_annotation" in mutation:
        annotations.update(mutation["set_annotation"])
    if "set_annotation_from" in mutation:
        annotations[mutation["annotation"]] = json.loads(_pem(mutation["set_annotation_from"]))["annotations"][mutation["annotation"]]
    return StoredLayer(document["mimeType"], annotations, base64.b64decode(document["payload"]), relative)


def _policy_trust(policy: dict, layers: list[StoredLayer]) -> TrustPolicy:
    key_paths = policy.get("keyPaths") or ([policy["keyPath"]] if policy.get("keyPath") else [])
    rekor = [load_pem_public_key(_pem(policy["rekorPublicKeyPath"]))] if policy.get("rekorPublicKeyPath") else None
    identities, cas = [], None
    if "fulcio" in policy:
        fulcio = policy["fulcio"]
        ca_pem = _pem(fulcio["caPath"]) if fulcio.get("caPath") else json.loads(_pem(layers[0].source))["annotations"]["dev.sigstore.cosign/chain"].encode()
        cas = x509.load_pem_x509_certificates(ca_pem)
        identities = [KeylessIdentity(issuer=fulcio["oidcIssuer"], subject=fulcio["subjectEmail"])]
    return TrustPolicy.from_parts(
        keys=[(path, _pem(path)) for path in key_paths],
        identities=identities,
        trusted_root_json=_root(cas=cas, rekor=rekor),
        require_tlog=rekor is not None,
    )


def _reference(case: dict) -> ReferenceMatch:
    wanted = case["policy"]["signedIdentity"]
    if wanted == "matchRepository":
        return ReferenceMatch(case["image_reference"])
    if wanted == "matchExact":
        return ReferenceMatch(case["image_reference"], exact=True)
    return ReferenceMatch(wanted["dockerReference"], exact=True)


IMAGE_CASES = INDEX["image_signature_cases"]


@pytest.mark.parametrize("case", IMAGE_CASES, ids=[case["name"] for case in IMAGE_CASES])
def test_image_signature_case(case: dict) -> None:
    layers = [_layer(path, case.get("mutation")) for path in case["signatures"]]
    trust = _policy_trust(case["policy"], layers) if "pki" not in case["policy"] else TrustPolicy.from_parts(trusted_root_json=_root())
    checks = verify_image_signatures(_image_digest(case, layers), parse_signature_layers(layers), trust, NOW, reference=_reference(case))
    # BYO-PKI certificates (no SCT, no Rekor entry) are not a gate trust model: upstream's passes are refused.
    expect = "fail" if "pki" in case["policy"] else case["expect"]
    assert any(check.ok for check in checks) is (expect == "pass"), [check.reason for check in checks]


def _image_digest(case: dict, layers: list[StoredLayer]) -> str:
    if case["manifest_digest"]:
        return case["manifest_digest"]
    if case["image_dir"] is None:  # a bare signature: judge it for the digest it names, so only the key decides
        return json.loads(layers[0].data)["critical"]["image"]["docker-manifest-digest"]
    return NO_MANIFEST


def test_non_signature_attachment_is_no_signature() -> None:
    case = next(case for case in IMAGE_CASES if case["name"] == "non-signature-attachment")
    assert parse_signature_layers([_layer(path) for path in case["signatures"]]) == []


LOW_LEVEL = INDEX["low_level_cases"]


def _low_level(case: dict) -> None:
    rekor_key = load_pem_public_key(_pem(case["rekor_public_key"])) if case.get("rekor_public_key") else None
    entry = RekorSET.from_annotation(_pem(case["set"]).decode(), case["name"]) if case.get("set") else None
    if "certificate" not in case and entry is not None:
        signed_at = verify_set(entry, TrustPolicy.from_parts(trusted_root_json=_root(rekor=[rekor_key])), NOW)
        assert int(signed_at.timestamp()) == case["expected_integrated_time"]
        return
    if "certificate" in case:
        payload = case["payload_literal"].encode() if "payload_literal" in case else _pem(case["payload"])
        trust = TrustPolicy.from_parts(
            identities=[KeylessIdentity(issuer=case["oidc_issuer"], subject=case["subject_email"])],
            trusted_root_json=_root(cas=x509.load_pem_x509_certificates(_pem(case["fulcio_ca"])), rekor=[rekor_key]),
        )
        material = CosignMaterial(certificate=_pem(case["certificate"]), chain=_pem(case["chain"]), rekor=entry)
        signature = base64.b64decode(_pem(case["signature_b64"]))
        verify_material(signed=payload, signature=signature, logged_payload=payload, material=material, trust=trust, now=NOW, layout="cosign-legacy", source=case["name"])
        return
    layer = StoredLayer(**_sigstore_json(case["signature"]))
    trust = TrustPolicy.from_parts(keys=[(case["public_key"], _pem(case["public_key"]))], require_tlog=False)
    digest = case.get("expected_manifest_digest") or json.loads(layer.data)["critical"]["image"]["docker-manifest-digest"]
    reference = ReferenceMatch(case["expected_docker_reference"]) if case.get("expected_docker_reference") else None
    checks = verify_image_signatures(digest, parse_signature_layers([layer]), trust, NOW, reference=reference)
    assert len(checks) == 1, "one .sig layer is one check"
    if not checks[0].ok:
        raise VerificationError(checks[0].reason, details={"status": checks[0].status})


def _sigstore_json(relative: str) -> dict:
    document = json.loads(_pem(relative))
    return {"media_type": document["mimeType"], "annotations": document["annotations"], "data": base64.b64decode(document["payload"]), "source": relative}


# Why each negative low-level case must fail: the check that refuses it, not any error at all.
LOW_LEVEL_REFUSALS = {
    "rekor-fulcio-payload-mismatch": "does not verify with its certificate",
    "rekor-fulcio-email-mismatch": "matches no configured keyless identity",
    "payload-verify-wrong-key": "verifies with none of the",
}


@pytest.mark.parametrize("case", LOW_LEVEL, ids=[case["name"] for case in LOW_LEVEL])
def test_low_level_case(case: dict) -> None:
    if case["expect"] == "pass":
        _low_level(case)
    else:
        with pytest.raises(VerificationError, match=LOW_LEVEL_REFUSALS[case["name"]]):
            _low_level(case)


BUNDLE_CASES = INDEX["bundle_cases"]


@pytest.mark.parametrize("case", BUNDLE_CASES, ids=[case["name"] for case in BUNDLE_CASES])
def test_bundle_case(case: dict) -> None:
    issuer = BUNDLE_CASES[0]["certificate_oidc_issuer"]  # the case's issuer_regexp is ".*"
    trust = TrustPolicy.from_parts(
        identities=[KeylessIdentity(issuer=issuer, subject_regex=case["identity_regexp"])], trusted_root_json=_pem(case["trusted_root"])
    )
    bundle = SigstoreBundle.from_bytes(_pem(case["bundle"]), source=case["name"])
    digest = case["subject_digest"] if case["subject_digest"].startswith("sha256:") else "sha256:" + hashlib.sha256(b"other").hexdigest()
    if case["expect"] == "pass":
        statement = verify_attestation(bundle, digest, trust, NOW)
        assert statement.predicate_type == "https://cosign.sigstore.dev/attestation/v1"
    else:
        with pytest.raises(GateError):
            verify_attestation(bundle, digest, trust, NOW)


CONNAISSEUR = INDEX["connaisseur_registry_cases"]["cases"]
REGISTRY = FOLDER / "connaisseur/registry/securesystemsengineering/testimage"


def _connaisseur_layers(case: dict) -> list[StoredLayer]:
    if "signature_manifest" not in case:
        return []
    manifest = json.loads(_pem(case["signature_manifest"]))
    layers = []
    for entry in manifest["layers"]:
        blob = (REGISTRY / "blobs" / f"{entry['digest']}.json").read_bytes()
        assert "sha256:" + hashlib.sha256(blob).hexdigest() == entry["digest"]
        layers.append(StoredLayer(entry["mediaType"], entry["annotations"], blob, entry["digest"]))
    return layers


def _connaisseur_trust(case: dict) -> TrustPolicy:
    if "keyless" not in case:
        return TrustPolicy.from_parts(keys=[(Path(path).stem, _pem(path)) for path in case["trust_roots"]], require_tlog=bool(case.get("verify_tlog", False)))
    host = yaml.safe_load(_pem(case["trust_config"]))["host"]
    # Connaisseur matches issuer by regex; gate's identities name the issuer exactly, so the regex is
    # written out as the issuer it matches ("github" -> GitHub OAuth, "google" -> Google accounts).
    issuer = {"github": "https://github.com/login/oauth", "google": "https://accounts.google.com"}[case["keyless"]["issuerRegex"]]
    wanted = case["keyless"]
    identity = KeylessIdentity(issuer=issuer, subject=wanted["subject"]) if "subject" in wanted else KeylessIdentity(issuer=issuer, subject_regex=f".*{wanted['subjectRegex']}.*")
    root = trusted_root_document(
        ca_chains=[[x509.load_pem_x509_certificate(host["fulcioCert"].encode())]],
        tlog_keys=[load_pem_public_key(host["rekorPubkey"].encode())],
        ct_keys=[load_pem_public_key(host["ctLogPubkey"].encode())],
    )
    return TrustPolicy.from_parts(identities=[identity], trusted_root_json=json.dumps(root).encode())


@pytest.mark.parametrize("case", CONNAISSEUR, ids=[case["name"] for case in CONNAISSEUR])
def test_connaisseur_case(case: dict) -> None:
    layers = _connaisseur_layers(case)
    digest = case.get("image_digest") or (_digest_from_tag(case) if "signature_manifest" in case else NO_MANIFEST)
    trust = _connaisseur_trust(case)
    checks = verify_image_signatures(digest, parse_signature_layers(layers), trust, NOW)
    signers = {check.signer.key_id or check.signer.name for check in checks if check.ok}
    names = {key.key_id: key.source for key in trust.keys}
    wanted = set(case.get("required", []))
    passed = len(signers) >= case.get("threshold", 1) and wanted <= {names.get(signer) for signer in signers}
    assert passed is (case["expect"] == "pass"), [check.reason for check in checks]
    if not layers:
        assert checks == []


def _digest_from_tag(case: dict) -> str:
    return "sha256:" + Path(case["signature_manifest"]).name.removeprefix("sha256-").removesuffix(".sig.json")
