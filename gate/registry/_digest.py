"""Digest syntax and incremental digest checking (OCI image-spec "Digests").

Only sha256 and sha512 are accepted: they are the algorithms the OCI spec registers, and an
unknown algorithm cannot be verified, so it is refused rather than trusted.
"""

from __future__ import annotations

import hashlib
import re

ALGORITHMS = {"sha256": 64, "sha512": 128}
_DIGEST = re.compile(r"(?P<algorithm>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)")


def digest_problem(digest: str) -> str | None:
    """Say why ``digest`` is not a digest we can verify, or return None when it is one."""
    match = _DIGEST.fullmatch(digest)
    if match is None:
        return f"{digest!r} is not a digest (want <algorithm>:<hex>, e.g. sha256:<64 hex>)"
    algorithm, hexpart = match["algorithm"], match["hex"]
    if algorithm not in ALGORITHMS:
        return f"digest algorithm {algorithm!r} is not supported (use sha256 or sha512)"
    length = ALGORITHMS[algorithm]
    if len(hexpart) != length or re.fullmatch(r"[0-9a-f]+", hexpart) is None:
        return f"{algorithm} digest must be {length} lowercase hex characters, got {hexpart!r}"
    return None


def algorithm_of(digest: str) -> str:
    """The algorithm part of an already validated digest."""
    return digest.partition(":")[0]


def matches(data: bytes, digest: str) -> bool:
    """Whether ``data`` hashes to ``digest``; a digest we cannot verify (see :func:`digest_problem`) never matches."""
    return digest_problem(digest) is None and compute(data, algorithm_of(digest)) == digest


def compute(data: bytes, algorithm: str = "sha256") -> str:
    """The ``<algorithm>:<hex>`` digest of ``data``."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class Hasher:
    """Feeds chunks to the hash named by an expected digest, so a stream can be checked at its end."""

    def __init__(self, algorithm: str):
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    def digest(self) -> str:
        return f"{self.algorithm}:{self._hash.hexdigest()}"
