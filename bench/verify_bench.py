"""How much time signature verification adds per image (issue 3: "at most a few ms").

Run: ``.venv/bin/python bench/verify_bench.py``. Signatures come from the test Sigstore instance
(``tests/support/sigstore_double.py``); trust is built once, as the engine does at start-up. Each
scenario verifies what one image typically carries; the median and p95 of many runs are printed.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from gate.config import KeylessIdentity  # noqa: E402
from gate.evidence._signatures import SigstoreBundle, parse_signature_layers  # noqa: E402
from gate.verify import TrustPolicy, verify_attestation, verify_image_signatures  # noqa: E402
from tests.support.sigstore_double import Keyed, Keyless, SigstoreInstanceDouble, pem_public, simple_signing, statement  # noqa: E402

NOW = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.timezone.utc)
IMAGE = "sha256:" + "5" * 64
RUNS = 300


def main() -> None:
    double = SigstoreInstanceDouble()
    key = ec.generate_private_key(ec.SECP256R1())
    signer = Keyless("ci@example.com", "https://accounts.example")
    trust = TrustPolicy.from_parts(
        keys=[("cosign.pub", pem_public(key))],
        identities=[KeylessIdentity(issuer="https://accounts.example", subject="ci@example.com")],
        trusted_root_json=double.trusted_root_json(),
    )
    legacy_keyless = parse_signature_layers([double.sign_legacy(simple_signing(IMAGE), signer, NOW)])
    legacy_keyed = parse_signature_layers([double.sign_legacy(simple_signing(IMAGE), Keyed(key), NOW)])
    bundle_keyless = [SigstoreBundle.from_bytes(double.bundle(statement(IMAGE), signer, NOW), source="bench")]
    bundle_keyed = [SigstoreBundle.from_bytes(double.bundle(statement(IMAGE), Keyed(key), NOW), source="bench")]
    (provenance,) = parse_signature_layers([double.attest_legacy(statement(IMAGE, "https://slsa.dev/provenance/v1"), signer, NOW)])
    scenarios = {
        "cosign .sig keyless (SET, chain, SCT)": lambda: verify_image_signatures(IMAGE, legacy_keyless, trust, NOW),
        "cosign .sig keyed + SET": lambda: verify_image_signatures(IMAGE, legacy_keyed, trust, NOW),
        "bundle v0.3 keyless (sigstore Verifier)": lambda: verify_image_signatures(IMAGE, bundle_keyless, trust, NOW),
        "bundle v0.3 keyed + inclusion proof": lambda: verify_image_signatures(IMAGE, bundle_keyed, trust, NOW),
        ".att keyless attestation": lambda: verify_attestation(provenance, IMAGE, trust, NOW),
        "typical image: .sig keyless + .att keyless": lambda: (
            verify_image_signatures(IMAGE, legacy_keyless, trust, NOW),
            verify_attestation(provenance, IMAGE, trust, NOW),
        ),
    }
    for name, scenario in scenarios.items():
        assert _verified(scenario()), name
        timings = []
        for _ in range(RUNS):
            start = time.perf_counter()
            scenario()
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        print(f"{name:45s} median {statistics.median(timings):6.2f} ms   p95 {timings[int(RUNS * 0.95)]:6.2f} ms")


def _verified(result) -> bool:
    """Every signature check in the result verified (a returned statement already did)."""
    if isinstance(result, tuple):
        return all(_verified(item) for item in result)
    if isinstance(result, list):
        return bool(result) and all(check.ok for check in result)
    return True


if __name__ == "__main__":
    main()
