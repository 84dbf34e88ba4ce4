"""Fixtures shared by the verify tests: one test Sigstore instance and one cosign key per module."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.sigstore_double import SigstoreInstanceDouble


@pytest.fixture(scope="module")
def double() -> SigstoreInstanceDouble:
    """A fresh ``SigstoreInstanceDouble`` (its own CA, CT log and Rekor log)."""
    return SigstoreInstanceDouble()


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    """A cosign-style ECDSA P-256 signing key."""
    return ec.generate_private_key(ec.SECP256R1())
