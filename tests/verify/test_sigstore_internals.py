"""The private sigstore-python APIs gate builds on are still there, with the shapes gate calls.

gate verifies cosign's annotation layouts and keyed bundles, which sigstore-python does not take as a
whole, from the library's own pieces: the SCT check, the Rekor keyrings, the log entry verifier and
the bundle's inner model. pyproject.toml bounds sigstore to the minor version tested here; when it is
raised, these tests name exactly which piece moved, instead of verification failing in the field.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from sigstore._internal.sct import verify_sct
from sigstore._internal.trust import KeyringPurpose
from sigstore._internal.tuf import DEFAULT_TUF_URL
from sigstore._utils import KeyID, read_embedded
from sigstore.models import Bundle, TransparencyLogEntry, TrustedRoot
from sigstore_models.trustroot import v1 as trustroot_v1

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _parameters(function) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


def test_installed_sigstore_is_inside_the_declared_bound() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    declared = next(d for d in dependencies if d.startswith("sigstore"))
    low, high = re.fullmatch(r"sigstore>=(\d+\.\d+),<(\d+\.\d+)", declared).groups()
    installed = tuple(int(part) for part in version("sigstore").split(".")[:2])
    assert tuple(map(int, low.split("."))) <= installed < tuple(map(int, high.split("."))), (declared, version("sigstore"))


def test_sct_verifier_takes_certificate_chain_and_ct_keyring() -> None:
    assert _parameters(verify_sct) == ["cert", "chain", "ct_keyring"]


def test_log_entry_verifier_takes_a_rekor_keyring() -> None:
    assert _parameters(TransparencyLogEntry._verify) == ["keyring"]


def test_keyrings_and_embedded_root_are_reachable() -> None:
    assert KeyringPurpose.VERIFY
    root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(read_embedded("trusted_root.json", DEFAULT_TUF_URL)))
    assert root.rekor_keyring(KeyringPurpose.VERIFY) is not None
    assert root.ct_keyring(KeyringPurpose.VERIFY) is not None
    assert KeyID(b"\x00" * 32)


def test_bundle_exposes_its_inner_envelope_and_log_entry_time() -> None:
    source = inspect.getsource(Bundle)
    assert "_inner" in source and "log_entry" in source
    assert "integrated_time" in inspect.getsource(TransparencyLogEntry)
