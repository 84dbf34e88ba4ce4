"""A blob's bytes as an iterator (async or plain) that checks size and digest when the stream ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from gate.errors import RegistryError
from gate.registry._digest import Hasher, algorithm_of
from gate.registry._errors import details
from gate.registry._reference import Reference

_TAMPERED = "the registry or something between us altered the content; do not use it, and re-push the image if the registry is yours"


class BlobCheck:
    """Hashes and counts a blob's chunks; raises ``RegistryError`` on a size or digest mismatch."""

    def __init__(self, ref: Reference, digest: str, size: int | None):
        self._ref = ref
        self._digest = digest
        self._size = size
        self._hasher = Hasher(algorithm_of(digest))
        self.verified = False

    @property
    def bytes_read(self) -> int:
        return self._hasher.size

    def took(self, chunk: bytes) -> bytes:
        """Hash ``chunk``; refuse it when the blob grows past its descriptor's size."""
        self._hasher.update(chunk)
        if self._size is not None and self._hasher.size > self._size:
            raise self._mismatch(f"is longer than the {self._size} bytes its descriptor says")
        return chunk

    def ended(self) -> None:
        """The stream ended: check the size and the digest."""
        if self._size is not None and self._hasher.size != self._size:
            raise self._mismatch(f"has {self._hasher.size} bytes, not the {self._size} its descriptor says")
        actual = self._hasher.digest()
        if actual != self._digest:
            raise self._mismatch(f"hashes to {actual}")
        self.verified = True

    def _mismatch(self, why: str) -> RegistryError:
        return RegistryError(
            f"digest mismatch: blob {self._digest} of {self._ref} {why}",
            remedy=_TAMPERED,
            details=details(self._ref, digest=self._digest),
        )


class BlobStream(BlobCheck):
    """Chunks of one blob. Iterating to the end raises ``RegistryError`` on a size or digest
    mismatch, so a consumer that reads everything has read verified bytes; ``verified`` tells."""

    def __init__(self, chunks: AsyncIterator[bytes], ref: Reference, digest: str, size: int | None):
        super().__init__(ref, digest, size)
        self._chunks = chunks

    def __aiter__(self) -> "BlobStream":
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self.ended()
            raise
        return self.took(chunk)

    async def drain(self) -> None:
        """Read and hash whatever the consumer left, so the digest is still checked."""
        async for _ in self:
            pass


class BlobChunks(BlobCheck):
    """:class:`BlobStream` for a blob read by blocking calls in a worker thread."""

    def __init__(self, chunks: Iterator[bytes], ref: Reference, digest: str, size: int | None):
        super().__init__(ref, digest, size)
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            yield self.took(chunk)
        self.ended()

    def drain(self) -> None:
        """Read and hash whatever the consumer left, so the digest is still checked."""
        if not self.verified:
            for _ in self:
                pass
