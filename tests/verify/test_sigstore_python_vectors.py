"""sigstore-python's own test assets give their indexed result.

Vectors: sigstore/sigstore-python test/assets (27db13db), indexed in
vectors/sigstore-python/index.json. ``bundle`` cases go through :func:`gate.verify.verify_bundle`
with the listed trusted root (offline). ``detached`` cases are a signature + certificate without
any log entry (upstream fetches the entry from staging Rekor online): gate must refuse them, since
nothing vouches for the signing time, and still tell a certificate that signed the artifact from one
that did not.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography import x509

from gate.config import KeylessIdentity
from gate.errors import GateError
from gate.evidence._signatures import CosignMaterial, SigstoreBundle
from gate.verify import TrustPolicy, verify_bundle
from gate.verify._keys import signature_matches
from gate.verify._cosign_layers import verify_material
from tests.verify._vectors import NOW, VECTORS, load_index

FOLDER = VECTORS / "sigstore-python"
INDEX = load_index("sigstore-python/index.json")
BUNDLES = [case for case in INDEX["cases"] if case["kind"] == "bundle"]
DETACHED = [case for case in INDEX["cases"] if case["kind"] == "detached"]


def _root(case: dict) -> bytes:
    listed = case["trusted_root"]
    if listed.startswith("tsa/trust_config.json"):
        return json.dumps(json.loads((FOLDER / "tsa/trust_config.json").read_text())["trustedRoot"]).encode()
    return (FOLDER / listed).read_bytes()


def _trust(case: dict) -> TrustPolicy:
    identities = []
    if case["certificate_oidc_issuer"]:
        identities.append(KeylessIdentity(issuer=case["certificate_oidc_issuer"], subject=case["certificate_identity"]))
    return TrustPolicy.from_parts(identities=identities, trusted_root_json=_root(case))


def _digest(case: dict) -> str:
    return case.get("artifact_sha256") or case["artifact_or_digest"]


def _verify(case: dict) -> None:
    bundle = SigstoreBundle.from_bytes((FOLDER / case["bundle"]).read_bytes(), source=case["name"])
    # Upstream verifies DSSE bundles with verify_dsse, which does not compare the subject (the index
    # says the .txt "is not the DSSE subject necessarily"), so only the envelope is checked here.
    verify_bundle(bundle, _trust(case), NOW, artifact_digest=_digest(case))


@pytest.mark.parametrize("case", BUNDLES, ids=[case["name"] for case in BUNDLES])
def test_bundle_case(case: dict) -> None:
    if case["expect"] == "pass":
        _verify(case)
    else:
        with pytest.raises(GateError):
            _verify(case)


@pytest.mark.parametrize("case", DETACHED, ids=[case["name"] for case in DETACHED])
def test_detached_case_is_refused_offline(case: dict) -> None:
    artifact = (FOLDER / case["artifact_or_digest"]).read_bytes()
    signature = base64.b64decode((FOLDER / case["signature_b64"]).read_text())
    certificate = (FOLDER / case["certificate_pem"]).read_bytes()
    key = x509.load_pem_x509_certificate(certificate).public_key()
    assert signature_matches(key, signature=signature, data=artifact) is (case["expect"] == "pass")
    with pytest.raises(GateError, match="no Rekor entry"):
        verify_material(
            signed=artifact, signature=signature, logged_payload=artifact,
            material=CosignMaterial(certificate=certificate, chain=None, rekor=None),
            trust=_trust(case), now=NOW, layout="detached", source=case["name"],
        )
