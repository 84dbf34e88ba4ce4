"""Helpers for verification-summary tests: signing keys on disk, and which image blobs a gate fetched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from tests.registry.lying_proxy_double import LyingRegistryProxyDouble
from tests.support.images import PushedImage

VERIFIER = "https://ci.example/gate"
VSA = "https://slsa.dev/verification_summary/v1"


def write_key(path: Path, key: Any, password: bytes | None = None) -> tuple[Path, Path]:
    """Write ``key`` as PKCS#8 PEM (encrypted with ``password``) and its public key beside it (``.pub``)."""
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    public = path.with_suffix(".pub")
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path, public


def image_blob_gets(proxy: LyingRegistryProxyDouble, pushed: PushedImage) -> list[str]:
    """The paths of the image's own config and layer blobs fetched through ``proxy``."""
    manifest = pushed.manifest
    digests = {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
    return [seen.path for seen in proxy.seen if seen.method == "GET" and any(seen.path.endswith(f"/blobs/{d}") for d in digests)]
