"""Layer tarballs hold exactly the members the file map names, hostile ones included."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import pytest
import zstandard

from tests.support.images import ImageBuilder
from tests.support.layers import Device, Dir, File, Hardlink, Opaque, Raw, Symlink, Whiteout, tar_bytes


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {info.name: info for info in tar.getmembers()}


def test_file_map_entries_become_tar_members() -> None:
    data = tar_bytes(
        {
            "etc/passwd": "root:x:0:0::/root:/bin/sh\n",
            "app/": Dir(mode=0o750),
            "bin/sh": Symlink("busybox"),
            "bin/ash": Hardlink("bin/sh"),
            "usr/bin/secret": File(b"\x00\x01", mode=0o4755, uid=1000),
            "dev/null": Device("char", 1, 3),
            "run/pipe": Device("fifo"),
            "var/cache/": Opaque(),
            "root/.npmrc": Whiteout(),
        },
        whiteouts=["home/app/.netrc", Opaque("opt")],
    )

    found = members(data)

    assert list(found) == [
        "etc/passwd", "app", "bin/sh", "bin/ash", "usr/bin/secret", "dev/null", "run/pipe",
        "var/cache/.wh..wh..opq", "root/.wh..npmrc", "home/app/.wh..netrc", "opt/.wh..wh..opq",
    ]  # fmt: skip
    assert found["app"].isdir() and found["app"].mode == 0o750
    assert found["bin/sh"].issym() and found["bin/sh"].linkname == "busybox"
    assert found["bin/ash"].islnk() and found["bin/ash"].linkname == "bin/sh"
    assert found["usr/bin/secret"].mode == 0o4755 and found["usr/bin/secret"].uid == 1000
    assert found["dev/null"].ischr() and (found["dev/null"].devmajor, found["dev/null"].devminor) == (1, 3)
    assert found["run/pipe"].isfifo()


def test_hostile_member_names_are_kept_verbatim() -> None:
    info = tarfile.TarInfo("sneaky")
    info.size = 3
    data = tar_bytes({"../etc/evil": "x", "/abs/path": "y", "raw": Raw(info, b"abc")})

    assert list(members(data)) == ["../etc/evil", "/abs/path", "sneaky"]


@pytest.mark.parametrize(
    ("compression", "decompress"),
    [("gzip", gzip.decompress), ("zstd", zstandard.ZstdDecompressor().decompressobj().decompress), ("none", bytes)],
)
def test_layer_blob_decompresses_to_its_diff_id(compression: str, decompress: object) -> None:
    image = ImageBuilder().layer({"a": "b"}, compression=compression)  # type: ignore[arg-type]
    layer = image.layers[0]

    raw = decompress(layer.blob)  # type: ignore[operator]

    assert "sha256:" + hashlib.sha256(raw).hexdigest() == layer.diff_id
    assert image.config_document()["rootfs"]["diff_ids"] == [layer.diff_id]


def test_layers_are_deterministic() -> None:
    def build() -> bytes:
        return ImageBuilder().layer({"a": "b", "c/": Dir()}).layers[0].blob

    assert build() == build()


def test_docker_images_have_no_zstd_layer_type() -> None:
    with pytest.raises(ValueError, match="media_type="):
        ImageBuilder(media="docker").layer({"a": "b"}, compression="zstd")
