"""Build image layer tarballs from file maps, including the hostile ones.

A file map is ``{tar member name: entry}``. Names are written verbatim (``../etc/x`` and ``/abs``
stay as they are, so hostile tests can write them); a ``str``/``bytes`` value is a regular file.
Everything is deterministic (mtime 0, uid/gid 0 unless given, gzip header mtime 0), so the same
map always gives the same digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Union

import zstandard

Compression = Literal["gzip", "zstd", "none"]


@dataclass(frozen=True)
class File:
    """A regular file; ``content`` as text (UTF-8) or bytes."""

    content: str | bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0

    def data(self) -> bytes:
        return self.content.encode() if isinstance(self.content, str) else self.content


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Symlink:
    target: str


@dataclass(frozen=True)
class Hardlink:
    """A hard link to another member name of the same (or an earlier) layer."""

    target: str


@dataclass(frozen=True)
class Device:
    """A character or block device, or a FIFO (for tests that feed scanners hostile layers)."""

    kind: Literal["char", "block", "fifo"] = "char"
    major: int = 0
    minor: int = 0
    mode: int = 0o600


@dataclass(frozen=True)
class Whiteout:
    """Deletes ``name`` from lower layers: writes ``<dir>/.wh.<base>`` (use as a map value or in ``whiteouts``)."""


@dataclass(frozen=True)
class Opaque:
    """Hides everything below directory ``path`` in lower layers: writes ``<path>/.wh..wh..opq``."""

    path: str = ""


@dataclass(frozen=True)
class Raw:
    """A tar member exactly as given (any type, name, size, pax headers), for malformed-layer tests."""

    info: tarfile.TarInfo
    data: bytes | None = None


Entry = Union[str, bytes, File, Dir, Symlink, Hardlink, Device, Whiteout, Opaque, Raw]

_TYPES = {"char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}


def whiteout_name(path: str) -> str:
    """``root/.npmrc`` -> ``root/.wh..npmrc`` (the OCI whiteout for that path)."""
    head, _, base = path.rstrip("/").rpartition("/")
    return f"{head}/.wh.{base}" if head else f".wh.{base}"


def opaque_name(directory: str) -> str:
    """``app/`` -> ``app/.wh..wh..opq`` (the OCI opaque-directory marker)."""
    directory = directory.strip("/")
    return f"{directory}/.wh..wh..opq" if directory else ".wh..wh..opq"


def tar_bytes(files: Mapping[str, Entry], whiteouts: Iterable[str | Opaque] = ()) -> bytes:
    """The uncompressed tar of ``files`` followed by ``whiteouts`` (paths, or :class:`Opaque`)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, entry in files.items():
            _add(tar, name, entry)
        for item in whiteouts:
            _add(tar, item.path, item) if isinstance(item, Opaque) else _add(tar, item, Whiteout())
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, entry: Entry) -> None:
    if isinstance(entry, Raw):
        tar.addfile(entry.info, io.BytesIO(entry.data) if entry.data is not None else None)
        return
    if isinstance(entry, (str, bytes)):
        entry = File(entry)
    info = tarfile.TarInfo(_member_name(name, entry))
    data = _describe(info, entry)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _member_name(name: str, entry: Entry) -> str:
    if isinstance(entry, Whiteout):
        return whiteout_name(name)
    if isinstance(entry, Opaque):
        return opaque_name(entry.path or name)
    return name


def _describe(info: tarfile.TarInfo, entry: Entry) -> bytes | None:
    """Fill ``info`` for ``entry``; return file content for regular files."""
    info.mtime = 0
    if isinstance(entry, File):
        data = entry.data()
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), entry.mode, entry.uid, entry.gid, entry.mtime
        return data
    if isinstance(entry, Dir):
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, entry.mode, entry.uid, entry.gid
    elif isinstance(entry, Symlink):
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, entry.target, 0o777
    elif isinstance(entry, Hardlink):
        info.type, info.linkname, info.mode = tarfile.LNKTYPE, entry.target, 0o644
    elif isinstance(entry, Device):
        info.type, info.devmajor, info.devminor, info.mode = _TYPES[entry.kind], entry.major, entry.minor, entry.mode
    elif isinstance(entry, (Whiteout, Opaque)):
        info.mode = 0o644
    else:
        raise TypeError(f"unsupported layer entry for {info.name!r}: {entry!r}")
    return None


def compress(data: bytes, compression: Compression) -> bytes:
    """Compress a tar deterministically (gzip header mtime 0)."""
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    if compression == "none":
        return data
    raise ValueError(f"unknown compression {compression!r}; use gzip, zstd or none")


@dataclass(frozen=True)
class Layer:
    """A built layer: ``blob`` as pushed, ``diff_id`` of the uncompressed tar, its media type."""

    blob: bytes
    diff_id: str
    media_type: str
    compression: Compression
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.blob).hexdigest()

    def descriptor(self) -> dict[str, object]:
        descriptor: dict[str, object] = {"mediaType": self.media_type, "digest": self.digest, "size": len(self.blob)}
        if self.annotations:
            descriptor["annotations"] = dict(self.annotations)
        return descriptor
