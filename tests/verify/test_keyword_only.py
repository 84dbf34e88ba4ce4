"""Verification helpers that take several values of one type take them by name.

Signed bytes, logged payload and signature are all ``bytes``, an issuer and a subject are both
``str``: passed by position, a swap type-checks and fails (or passes) silently. Keyword-only
parameters make every call site name what it passes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from gate.verify import _bundle, _cosign_layers, _keys, _tlog
from gate.verify._trust import TrustPolicy

HELPERS: list[tuple[Callable[..., Any], tuple[str, ...]]] = [
    (_keys.signature_matches, ("signature", "data")),
    (_keys.digest_signature_matches, ("signature", "sha256_digest")),
    (_keys._verifies, ("signature", "data", "algorithm")),
    (_keys._rsa_verifies, ("signature", "data", "algorithm")),
    (_cosign_layers.verify_material, ("signed", "signature", "logged_payload")),
    (_cosign_layers._keyless, ("certificate", "signed", "signature", "logged_payload")),
    (_cosign_layers._keyed, ("signed", "signature", "logged_payload")),
    (_bundle._keyed_tlog, ("signature", "key", "logged", "artifact_digest")),
    (_tlog.check_binding, ("signature", "signer", "digest")),
    (_tlog._hashedrekord, ("signature", "signer", "digest")),
    (_tlog._dsse, ("signature", "signer", "digest")),
    (_tlog._intoto, ("signature", "signer", "digest")),
    (TrustPolicy.identity_authorities, ("issuer", "subject", "extensions")),
]


@pytest.mark.parametrize(("helper", "names"), HELPERS, ids=[helper.__qualname__ for helper, _ in HELPERS])
def test_same_typed_arguments_are_keyword_only(helper: Callable[..., Any], names: tuple[str, ...]) -> None:
    parameters = inspect.signature(helper).parameters
    positional = [name for name in names if parameters[name].kind is not inspect.Parameter.KEYWORD_ONLY]
    assert not positional, f"{helper.__qualname__} takes {positional} by position"

