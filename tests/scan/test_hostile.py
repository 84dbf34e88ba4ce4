"""Hostile and broken layers: each ends in a clear EvidenceError or LimitExceeded naming the layer,
or is handled safely; never a crash, a hang or a silent pass."""

from __future__ import annotations

import gzip
import io
import random
import tarfile

import pytest
import zstandard

from gate.config import Limits
from gate.errors import EvidenceError, LimitExceeded
from gate.scan import ImageBudget, LayerScanner
from tests.scan._scan import chunked
from tests.scan._tokens import NPM, fake
from tests.support.layers import Device, Raw, compress, tar_bytes

DIGEST = "sha256:" + "d" * 64
NPMRC = "//registry.npmjs.org/:_authToken=" + NPM + "\n"


def _scan(blob: bytes, limits: Limits | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    return LayerScanner(limits or Limits()).scan(chunked(blob), "application/vnd.oci.image.layer.v1.tar+gzip", 3,
                                                 DIGEST, **kwargs)  # type: ignore[arg-type]


def _raw(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE) -> Raw:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, len(data)
    return Raw(info, data)


def _error(exc_type: type[Exception], blob: bytes, limits: Limits | None = None) -> str:
    with pytest.raises(exc_type) as caught:
        _scan(blob, limits)
    message = str(caught.value)
    assert f"layer 3 ({DIGEST})" in message
    return message


@pytest.mark.parametrize("name", ["../etc/passwd", "app/../../etc/shadow", "/../../x"])
def test_path_traversal_is_refused(name: str) -> None:
    assert "path traversal" in _error(EvidenceError, compress(tar_bytes({name: _raw(name, b"x")}), "gzip"))


def test_absolute_and_dot_paths_are_normalised() -> None:
    scan = _scan(compress(tar_bytes({"/root/.npmrc": NPMRC, "./app/./x/../.git/HEAD": "ref\n"}), "gzip"))
    assert {(h.detector, h.path) for h in scan.hits} == {("npmrc", "root/.npmrc"), ("vcs-metadata", "app/.git")}


def test_corrupt_gzip() -> None:
    blob = bytearray(compress(tar_bytes({"a": "x" * 5000}), "gzip"))
    blob[20:40] = b"\xff" * 20
    assert "corrupt gzip" in _error(EvidenceError, bytes(blob))


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_truncated_layers(compression: str) -> None:
    blob = compress(tar_bytes({"a": "x" * 50_000, "b": "y" * 50_000}), compression)  # type: ignore[arg-type]
    assert "truncated" in _error(EvidenceError, blob[: len(blob) // 2])


def test_garbage_after_gzip_stream() -> None:
    assert "after the end" in _error(EvidenceError, compress(tar_bytes({"a": "x"}), "gzip") + b"MORE DATA")


def test_not_a_tar() -> None:
    assert "not a tar" in _error(EvidenceError, gzip.compress(b"hello world, this is not a tar archive" * 40))


def test_empty_blob_is_refused() -> None:
    assert "truncated" in _error(EvidenceError, b"")


def test_gzip_bomb_hits_the_ratio_cap_with_bounded_memory() -> None:
    bomb = gzip.compress(bytes(200 * 1024 * 1024), compresslevel=9)
    assert "decompression bomb" in _error(LimitExceeded, bomb)


def test_zstd_bomb_hits_the_per_layer_cap() -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(bytes(64 * 1024 * 1024))
    assert "uncompressed bytes" in _error(LimitExceeded, bomb, Limits(scan_bytes_per_layer=32 * 1024 * 1024))


def test_entry_cap() -> None:
    blob = compress(tar_bytes({f"f{i}": "" for i in range(50)}), "gzip")
    assert "more than 10 tar entries" in _error(LimitExceeded, blob, Limits(entries_per_layer=10))


def test_image_budget_is_shared_across_layers() -> None:
    blob = compress(tar_bytes({"a": "x" * 40_000}), "gzip")
    budget = ImageBudget(60_000)
    _scan(blob, budget=budget)
    with pytest.raises(LimitExceeded, match="image exceeds 60000"):
        _scan(blob, budget=budget)


def test_devices_and_fifos_are_counted_not_read() -> None:
    blob = compress(tar_bytes({"dev/null": Device("char", 1, 3), "dev/sda": Device("block", 8, 0),
                               "tmp/pipe": Device("fifo"), "root/.npmrc": NPMRC}), "gzip")
    scan = _scan(blob)
    assert scan.skipped["special"] == 3
    assert [h.path for h in scan.hits] == ["root/.npmrc"]


def test_oversized_pax_record_is_refused() -> None:
    info = tarfile.TarInfo("a")
    info.pax_headers = {"comment": "x" * (2 * 1024 * 1024)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(b""))
    assert "pax or long-name record" in _error(LimitExceeded, compress(buffer.getvalue(), "gzip"))


def test_long_names_via_pax_and_gnu_are_read() -> None:
    long_dir = "app/" + "d" * 150
    pax = tar_bytes({f"{long_dir}/.npmrc": NPMRC})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        data = NPMRC.encode()
        info = tarfile.TarInfo(f"{long_dir}/gnu/.npmrc")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    for blob, expected in ((pax, f"{long_dir}/.npmrc"), (buffer.getvalue(), f"{long_dir}/gnu/.npmrc")):
        assert [h.path for h in _scan(compress(blob, "zstd")).hits] == [expected]


def test_bad_header_checksum() -> None:
    blob = bytearray(tar_bytes({"a": "x"}))
    blob[0:1] = b"b"
    assert "checksum" in _error(EvidenceError, bytes(blob))


def test_progress_reports_compressed_bytes() -> None:
    blob = compress(tar_bytes({"a": "x" * 100_000}), "gzip")
    seen: list[int] = []
    _scan(blob, progress=seen.append)
    assert seen and seen[-1] == len(blob) and seen == sorted(seen)


def test_hardlink_climbing_out_of_the_root_is_refused() -> None:
    info = tarfile.TarInfo("app/shadow")
    info.type, info.linkname = tarfile.LNKTYPE, "../../etc/shadow"
    assert "path traversal" in _error(EvidenceError, compress(tar_bytes({"app/shadow": Raw(info)}), "gzip"))


def test_symlinks_are_recorded_never_followed() -> None:
    blob = compress(tar_bytes({"app/escape": _symlink("app/escape", "../../../../etc/shadow"),
                               "etc/passwd": _symlink("etc/passwd", "/proc/self/x")}), "gzip")
    scan = _scan(blob)
    assert scan.hits == () and scan.passwd is None
    assert scan.has_file("app/escape") and scan.has_file("etc/passwd")


def _symlink(name: str, target: str) -> Raw:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return Raw(info)


@pytest.mark.parametrize(
    ("decoy", "secret", "detector"),
    [
        (b"api_key = docker_value_%05d\n", b"api_key = Zq81mX0vT4rL9sK2\n", "generic-api-key"),
        (b"curl -X GET https://example.com/%05d\n", b"curl -u admin:Zq81mX0vT4rL https://example.com\n", "curl-auth-user"),
        (b"kind: Secret # %05d\n", b"token: " + NPM.encode() + b"\n", "npm-access-token"),
        (b'PEM = "-----BEGIN PRIVATE KEY-----"  # %05d\n',
         b"-----BEGIN PRIVATE KEY-----\n" + fake("MIIE", 60, "decoyed").encode() + b"\n-----END PRIVATE KEY-----\n",
         "private-key"),
    ],
)
def test_a_secret_after_thousands_of_decoys_is_still_found(decoy: bytes, secret: bytes, detector: str) -> None:
    """No per-file cap on candidate matches that could be used to hide a secret behind decoys."""
    content = b"".join(decoy % number for number in range(20_000)) + secret
    scan = _scan(compress(tar_bytes({"app/notes.yaml": content}), "gzip"))
    assert detector in {hit.detector for hit in scan.hits}


@pytest.mark.parametrize("split", [0, 1], ids=["at-member-end", "inside-next-magic"])
def test_gzip_members_split_across_chunks_are_read(split: int) -> None:
    """Multi-member gzip (eStargz writes one member per file): a member may end exactly where a
    network chunk ends, or the next member's two magic bytes may straddle two chunks."""
    tar = tar_bytes({"big": random.Random(7).randbytes(1_200_000), "root/.npmrc": NPMRC})
    first = gzip.compress(tar[:1_100_000], mtime=0)  # over 1 MiB compressed: a chunk of its own
    second = gzip.compress(tar[1_100_000:], mtime=0)
    chunks = [first + second[:split], second[split:]]
    scan = LayerScanner(Limits()).scan(chunks, "application/vnd.oci.image.layer.v1.tar+gzip", 3, DIGEST)
    assert [(h.detector, h.path) for h in scan.hits] == [("npmrc", "root/.npmrc")]


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_members_after_the_end_of_the_tar_archive_are_refused(compression: str) -> None:
    """A runtime stops at the zero blocks, so a member after them is never unpacked, yet it is in
    the blob for anyone who can pull it: refused rather than left unscanned."""
    hidden = tar_bytes({"a": "x"}) + tar_bytes({"root/.npmrc": NPMRC})
    assert "after the end of the tar archive" in _error(EvidenceError, compress(hidden, compression))  # type: ignore[arg-type]


def test_zero_padding_after_the_end_of_the_tar_archive_is_read() -> None:
    scan = _scan(compress(tar_bytes({"root/.npmrc": NPMRC}) + bytes(20_000), "gzip"))
    assert [h.detector for h in scan.hits] == ["npmrc"]


@pytest.mark.parametrize("size", ["-5", "1_0", " 5"])
def test_pax_size_that_is_not_plain_digits_is_refused(size: str) -> None:
    """Go's archive/tar (Docker, containerd) refuses these; read leniently they would desynchronise
    gate's walk from the runtime's (a negative size reads as an empty file)."""
    info = tarfile.TarInfo("a")
    info.size, info.pax_headers = 5, {"size": size}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b"hello"))
    message = _error(EvidenceError, buffer.getvalue())
    assert "malformed pax size" in message or "negative size" in message  # Go: ParseInt fails, or the size is < 0



def _pax_header(records: dict[str, str], kind: bytes) -> bytes:
    return tarfile.TarInfo._create_pax_generic_header(records, kind, "utf-8")  # type: ignore[attr-defined]


@pytest.mark.parametrize("before", [
    _pax_header({"path": "decoy"}, tarfile.XGLTYPE),
    _pax_header({"path": "decoy"}, tarfile.XHDTYPE) + _pax_header({"comment": "x"}, tarfile.XGLTYPE),
], ids=["global-path", "local-path-then-global"])
def test_global_pax_headers_rename_no_member(before: bytes) -> None:
    """Go's archive/tar (Docker, containerd) returns a global ``g`` header as a member of its own,
    applies none of it to later members, and drops a pending ``x`` record when it meets one. Read
    otherwise, ``root/.npmrc`` would be scanned under the decoy name (no credential-file check, and
    wrong paths for deletions)."""
    data = NPMRC.encode()
    info = tarfile.TarInfo("root/.npmrc")
    info.size = len(data)
    member = info.tobuf(tarfile.USTAR_FORMAT) + data + bytes(-len(data) % 512)
    blob = before + member + bytes(1024)
    assert [(h.detector, h.path) for h in _scan(blob).hits] == [("npmrc", "root/.npmrc")]
