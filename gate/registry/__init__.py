"""The OCI registry client: the only network code in gate.

References are parsed and normalised (:class:`Reference`); :class:`RegistryClient` resolves
them to digests, fetches manifests and blobs verified against their digests and capped in size,
lists referrers, and authenticates (anonymous, Basic, Bearer tokens; credentials from docker
``config.json`` and a caller-given :class:`CredentialStore`). Errors are ``gate.errors`` only.
"""

from gate.registry._credentials import Credential, CredentialStore
from gate.registry._digest import matches as digest_matches
from gate.registry._models import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Descriptor, Manifest
from gate.registry._reference import Reference
from gate.registry._stream import BlobStream
from gate.registry.client import RegistryClient

__all__ = [
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "BlobStream",
    "Credential",
    "CredentialStore",
    "Descriptor",
    "Manifest",
    "Reference",
    "RegistryClient",
    "digest_matches",
]
