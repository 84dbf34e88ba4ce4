"""Files inside archives a layer holds (``.jar``, ``.war``, ``.whl``, ``.zip``, ``.tar.gz`` …).

A secret packed into an application archive ships as surely as a loose file, so archive members
are scanned with the same detectors, named ``outer!/member``. Reading is bounded, since the bytes
come from whoever built the image: only archives whose whole content was read (up to
``limits.file_bytes``) are opened, each member's content is read up to ``limits.file_bytes`` (a
larger one is checked by name only), a member expanding more than ``MAX_RATIO`` times its
compressed size is skipped as a bomb, one archive yields at most ``MAX_MEMBERS`` members and
``MAX_EXPANDED`` bytes, and archives nest at most ``MAX_DEPTH`` deep. An archive that cannot be
read (corrupt, encrypted, unknown compression) is skipped: the runtime could not read it either.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from collections.abc import Iterator

MAX_DEPTH = 2
MAX_MEMBERS = 10_000
MAX_RATIO = 200
MAX_EXPANDED = 256 * 1024 * 1024
_ZIP_NAMES = (".zip", ".jar", ".war", ".ear", ".aar", ".whl", ".nupkg", ".egg")
_TAR_NAMES = (".tar", ".tar.gz", ".tgz")
_READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, ValueError, RuntimeError,
                NotImplementedError, KeyError)

Member = tuple[str, bytes | None]  # (path inside the archive, content or None when not read)


def is_archive(path: str) -> bool:
    """Whether ``path`` names an archive whose members are scanned."""
    lowered = path.lower()
    return lowered.endswith(_ZIP_NAMES) or lowered.endswith(_TAR_NAMES)


def members(path: str, content: bytes, file_bytes: int, depth: int = 1) -> Iterator[Member]:
    """Every regular member of the archive at ``path`` (recursing into nested archives), named
    ``path!/member``; stops quietly at a bound or at bytes that do not read as an archive."""
    budget = [MAX_EXPANDED]
    reader = _zip_members if path.lower().endswith(_ZIP_NAMES) else _tar_members
    try:
        for name, data in reader(content, file_bytes, budget):
            inner = f"{path}!/{name.lstrip('/')}"
            yield inner, data
            if data is not None and depth < MAX_DEPTH and is_archive(name):
                yield from members(inner, data, file_bytes, depth + 1)
    except _READ_ERRORS:
        return


def _zip_members(content: bytes, file_bytes: int, budget: list[int]) -> Iterator[Member]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for count, info in enumerate(archive.infolist()):
            if count >= MAX_MEMBERS or budget[0] <= 0:
                return
            if info.is_dir():
                continue
            if info.file_size > file_bytes or info.file_size > MAX_RATIO * max(info.compress_size, 1):
                yield info.filename, None
                continue
            with archive.open(info) as member:
                data = member.read(file_bytes + 1)
            budget[0] -= len(data)
            yield info.filename, data if len(data) <= file_bytes else None


def _tar_members(content: bytes, file_bytes: int, budget: list[int]) -> Iterator[Member]:
    limit = min(MAX_EXPANDED, MAX_RATIO * len(content))
    with tarfile.open(fileobj=io.BytesIO(content), mode="r:*") as archive:
        for count, info in enumerate(archive):
            if count >= MAX_MEMBERS or budget[0] <= 0 or info.offset_data + info.size > limit:
                return  # past the ratio: never inflate further, not even to skip to the next header
            if not info.isreg():
                continue
            if info.size > file_bytes:
                yield info.name, None
                continue
            extracted = archive.extractfile(info)
            data = extracted.read(file_bytes + 1) if extracted is not None else b""
            budget[0] -= len(data)
            yield info.name, data
