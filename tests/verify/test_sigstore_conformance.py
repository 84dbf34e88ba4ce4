"""Every bundle-verify case of sigstore-conformance gives its indexed result.

Vectors: sigstore/sigstore-conformance test/assets/bundle-verify (a73de497), indexed in
vectors/sigstore-conformance/cases.json. A case with ``key`` is verified with that key as the only
trusted key; otherwise with the case's issuer + identity. Trusted roots: the case's own, else the
production root copy in the same folder (offline).
"""

from __future__ import annotations

import pytest

from gate.config import KeylessIdentity
from gate.errors import GateError, VerificationError
from gate.evidence._signatures import SigstoreBundle
from gate.verify import TrustPolicy, verify_bundle
from gate.verify._statement import in_toto_statement, require_subject
from tests.verify._vectors import NOW, VECTORS, load_index, sha256_of

FOLDER = VECTORS / "sigstore-conformance"
CASES = load_index("sigstore-conformance/cases.json")
# Upstream CI marks exactly these as expected failures for sigstore-python (collector_check note).
UPSTREAM_XFAIL = {case["name"] for case in CASES if "upstream CI xfails" in (case["collector_check"].get("note") or "")}


def _trust(case: dict) -> TrustPolicy:
    root = (FOLDER / case["trusted_root"]) if case["trusted_root"] else (FOLDER / "trusted_root.production.json")
    if case.get("key"):
        return TrustPolicy.from_parts(keys=[("key.pub", (FOLDER / case["key"]).read_bytes())], trusted_root_json=root.read_bytes())
    identity = KeylessIdentity(issuer=case["certificate_oidc_issuer"], subject=case["certificate_identity"])
    return TrustPolicy.from_parts(identities=[identity], trusted_root_json=root.read_bytes())


def _verify(case: dict) -> None:
    raw = (FOLDER / case["bundle"]).read_bytes()
    digest = sha256_of(FOLDER / case["artifact_or_digest"])
    try:
        bundle = SigstoreBundle.from_bytes(raw, source=case["name"])
    except Exception as exc:  # EvidenceError / LimitExceeded: a bundle that does not parse fails
        raise VerificationError(str(exc)) from exc
    result = verify_bundle(bundle, _trust(case), NOW, artifact_digest=digest)
    if result.payload is not None:
        require_subject(in_toto_statement(result.payload_type, result.payload, case["name"]), digest, case["name"])


# Strict, and only for a VerificationError: if sigstore-python learns these cases, the mark must go.
KNOWN_GAP = pytest.mark.xfail(
    strict=True, raises=VerificationError, reason="upstream sigstore-conformance marks this case as an expected failure for sigstore-python"
)


@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case["name"], marks=[KNOWN_GAP] if case["name"] in UPSTREAM_XFAIL else []) for case in CASES]
)
def test_conformance_case(case: dict) -> None:
    if case["expect"] == "pass":
        _verify(case)
    else:
        # A key that does not load is refused by TrustPolicy (ConfigError): also a failure.
        with pytest.raises(GateError):
            _verify(case)
