"""The public surface of gate.registry is exactly what other packages are meant to use."""

from __future__ import annotations

import gate.registry


def test_exported_members() -> None:
    assert sorted(gate.registry.__all__) == sorted(
        [
            "BlobStream",
            "Credential",
            "CredentialStore",
            "DOCKER_LIST",
            "DOCKER_MANIFEST",
            "Descriptor",
            "Manifest",
            "OCI_INDEX",
            "OCI_MANIFEST",
            "Reference",
            "RegistryClient",
            "digest_matches",
        ]
    )
    for name in gate.registry.__all__:
        assert getattr(gate.registry, name) is not None
