"""gate's tar reader against a model of Go's ``archive/tar`` (``_go_tar_model``), on hand-made
headers and on Go's own testdata archives (tests/vectors/go-archive-tar).

For every archive gate either refuses the layer (EvidenceError / LimitExceeded) or yields exactly
the members Go yields: same normalised names, kinds, sizes, link targets and file contents.
"""

from __future__ import annotations

import bz2
import itertools
from pathlib import Path

import pytest

from gate.errors import EvidenceError, LimitExceeded
from gate.scan._tar import entries, normalise
from tests.scan import _go_tar_model as go
from tests.support.vectors import VECTORS

GO_TESTDATA = VECTORS / "go-archive-tar"
KINDS = {ord("0"): "file", ord("7"): "file", ord("1"): "hardlink", ord("2"): "symlink", ord("3"): "device",
         ord("4"): "device", ord("5"): "dir", ord("6"): "fifo"}
Member = tuple[str, str, int, str, bytes | None]


def gate_members(data: bytes) -> list[Member] | None:
    """What gate reads, or None when it refuses the layer."""
    try:
        found = list(entries(iter([data[i : i + 700] for i in range(0, len(data), 700)]), "layer", want=1 << 20, max_entries=10_000))
    except (EvidenceError, LimitExceeded):
        return None
    return [(e.path, e.kind, e.size, e.link, content) for e, content in found]


def go_members(data: bytes) -> list[Member] | None:
    """What Go reads, in gate's terms; None where Go fails or where no runtime could unpack a name."""
    try:
        headers = go.read_headers(data)
        members = []
        for header in headers:
            if header.typeflag == ord("g"):
                continue  # Docker and containerd skip global headers
            kind = KINDS.get(header.typeflag, "other")
            name = normalise(header.name.decode("utf-8", "surrogateescape"), "layer")
            link = header.linkname.decode("utf-8", "surrogateescape")
            size = header.size if kind in ("file", "other") else 0
            members.append((name, kind, size, normalise(link, "layer") if kind == "hardlink" else link, header.data if kind == "file" else None))
        return members
    except (go.GoTarError, EvidenceError):
        return None


def assert_equivalent(data: bytes) -> list[Member] | None:
    """Gate refuses, or reads what Go reads; returns gate's reading."""
    ours, theirs = gate_members(data), go_members(data)
    if ours is not None:
        assert theirs is not None, "gate read an archive Go refuses"
        assert ours == theirs
    return ours


# --- hand-made headers ------------------------------------------------------------------------

def header(name: bytes, flag: bytes = b"0", size: int = 0, *, link: bytes = b"", magic: str = "ustar",
           prefix: bytes = b"", fields: dict[int, bytes] | None = None) -> bytes:
    """One 512-byte header; ``magic`` is ustar, gnu, star or v7; ``fields`` overwrites bytes at offsets."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = block[116:124] = b"0000000\0"
    block[124:136] = b"%011o\0" % size
    block[136:148] = b"00000000000\0"
    block[156:157] = flag
    block[157 : 157 + len(link)] = link
    if magic in ("ustar", "star"):
        block[257:265] = b"ustar\x0000"
    elif magic == "gnu":
        block[257:265] = b"ustar  \0"
    block[345 : 345 + len(prefix)] = prefix
    if magic == "star":
        block[508:512] = b"tar\0"
    for offset, value in (fields or {}).items():
        block[offset : offset + len(value)] = value
    block[148:156] = b"        "
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def member(name: bytes, content: bytes = b"", flag: bytes = b"0", **options: object) -> bytes:
    padding = -len(content) % 512
    return header(name, flag, len(content), **options) + content + bytes(padding)  # type: ignore[arg-type]


def pax(records: dict[bytes, bytes], flag: bytes = b"x") -> bytes:
    body = b""
    for key, value in records.items():
        record = b" " + key + b"=" + value + b"\n"
        length = len(record) + 1
        while len(str(length)) + len(record) != length:
            length += 1
        body += str(length).encode() + record
    return member(b"PaxHeaders/x", body, flag)


def long_name(value: bytes, flag: bytes = b"L") -> bytes:
    return member(b"././@LongLink", value + b"\0", flag, magic="gnu")


END = bytes(1024)
SECRET = b"//registry.npmjs.org/:_authToken=npm_" + b"A" * 36 + b"\n"
SMUGGLED = member(b"root/.npmrc", SECRET)


def _archives() -> list[tuple[str, bytes]]:
    cases = []
    for magic, prefix, name, flag in itertools.product(
            ("ustar", "gnu", "v7", "star"), (b"", b"root/.docker", b"01234567"), (b"config.json", b"dir/"),
            (b"0", b"\0", b"5", b"2", b"1", b"S", b"7", b"D")):
        body = SMUGGLED  # data a runtime reads as members when the header carries no data section
        head = header(name, flag, len(body), link=b"target", magic=magic, prefix=prefix)
        for meta_name, meta in (("none", b""), ("pax path", pax({b"path": b"pax/name"})), ("empty pax path", pax({b"path": b""})),
                                ("pax size", pax({b"size": b"3"})), ("pax linkpath", pax({b"linkpath": b"pax/link"})),
                                ("gnu long name", long_name(b"gnu/long")), ("empty gnu long name", long_name(b"")),
                                ("gnu long link", long_name(b"gnu/link", b"K")),
                                ("pax and gnu", pax({b"path": b"pax/name"}) + long_name(b"gnu/long")),
                                ("gnu then global", long_name(b"gnu/long") + pax({b"path": b"global"}, b"g")),
                                ("two pax", pax({b"path": b"first"}) + pax({b"path": b"second"}))):
            cases.append((f"{magic}-{prefix!r}-{name!r}-{flag!r}-{meta_name}", meta + head + body + END))
    return cases


def test_gate_reads_hand_made_headers_as_go_does() -> None:
    archives = _archives()
    read = [name for name, data in archives if assert_equivalent(data) is not None]
    assert len(read) > len(archives) // 2, "gate refuses too much to be useful"


@pytest.mark.parametrize(("what", "data"), [
    ("trailing slash on a type-\\0 member: a directory without data", member(b"dir/", SMUGGLED, b"\0") + END),
    ("GNU prefix from pre-Go1.8 writers", member(b"config.json", SECRET, magic="gnu", prefix=b"root/.docker") + END),
    ("STAR prefix is 131 bytes, then atime and ctime",
     member(b"config.json", SECRET, magic="star", prefix=b"root/.docker", fields={476: b"00000000000\0" * 2}) + END),
    ("an empty pax path keeps the header name", pax({b"path": b""}) + member(b"root/.npmrc", SECRET) + END),
    ("the last of two pax headers wins", pax({b"path": b"decoy"}) + pax({b"path": b"root/.npmrc"}) + member(b"x", SECRET) + END),
    ("a link's size field carries no data", member(b"l", SMUGGLED, b"2", link=b"t") + END),
])
def test_rules_where_naive_readers_differ(what: str, data: bytes) -> None:
    """Each archive hides a credential file from a reader that gets this rule wrong; gate finds it."""
    ours = assert_equivalent(data)
    assert ours is not None, what
    assert any(path in ("root/.npmrc", "root/.docker/config.json") for path, *_ in ours), what


@pytest.mark.parametrize("data", [
    pax({b"GNU.sparse.major": b"1", b"GNU.sparse.minor": b"0", b"GNU.sparse.name": b"root/.npmrc"}) + member(b"decoy", b"1\n0\n0\n".ljust(512, b"\0")) + END,
    member(b"sparse", b"", b"S", magic="gnu") + END,
    pax({b"path": b"decoy"}) + long_name(b"root/.npmrc") + member(b"x", SECRET) + END,
    member(b"a", b"", fields={100: b"0o00644\0"}) + END,  # Python's int() reads 0o.., Go does not
    member(b"a", b"", fields={124: b"-0000000001\0"}) + END,
    pax({b"path": b"a\0b"}) + member(b"x") + END,
    pax({b"mtime": b"1.5x"}) + member(b"x") + END,
])
def test_ambiguous_or_malformed_headers_are_refused(data: bytes) -> None:
    assert gate_members(data) is None


def _checksum_spelled(block: bytes, spelling: bytes, change: int = 0) -> bytes:
    """``block`` with its checksum field rewritten in ``spelling`` (a %-format for the sum)."""
    value = sum(block[:148]) + 8 * 32 + sum(block[156:512]) + change
    return block[:148] + (spelling % value)[:8].ljust(8, b"\0") + block[156:]


@pytest.mark.parametrize(("spelling", "change"), [
    (b"%06o\0 ", 0), (b"%06o\0 ", 1), (b"%07o\0", 0), (b"%07o ", 0), (b" %06o ", 0), (b"%08o", 0),
    (b"%06o  ", 0), (b"\0%06o ", 0), (b"%o", 0), (b"0%o\0", 0),
    (b"0_%04o\0 ", 0),  # Python's int() skips the underscore; Go does not
    (b"+%05o\0 ", 0),  # nor a sign
    (b"%06d\0 ", 0),  # decimal digits 8 and 9 are not octal
    (b"%06o\0 ", 65521), (b"%07o\0", 65521),  # off by the modulus of the byte sum's fast path: still a mismatch for Go
])
@pytest.mark.parametrize("magic", ["ustar", "gnu", "v7", "star"])
def test_checksum_spellings_read_as_go_reads_them(spelling: bytes, change: int, magic: str) -> None:
    block = header(b"root/.npmrc", size=len(SECRET), magic=magic)
    assert_equivalent(_checksum_spelled(block, spelling, change) + SECRET + bytes(-len(SECRET) % 512) + END)


@pytest.mark.parametrize("offset", [100, 108, 116, 124, 136, 329, 337, 476, 488])
@pytest.mark.parametrize("value", [b"  1234 \0", b"0000_644\0", b"\x80\0\0\0\0\0\0\x01", b"00000008\0", b"0000644 ", b"\0\0\0\0\0\0\0\0"])
@pytest.mark.parametrize("magic", ["ustar", "gnu", "v7", "star"])
def test_numeric_field_spellings_read_as_go_reads_them(offset: int, value: bytes, magic: str) -> None:
    """Every numeric field a format has must parse in Go, and only those: the same bytes in a field
    another format does not have (a V7 header's devmajor) change nothing."""
    content = b"" if offset == 124 else SECRET
    data = header(b"root/.npmrc", size=len(content), magic=magic, fields={offset: value}) + content + bytes(-len(content) % 512) + END
    assert_equivalent(data)


# --- Go's own testdata, with the expectations of TestReader (src/archive/tar/reader_test.go) ------

R, D, S = ord("0"), ord("5"), ord("S")
GO_EXPECTED: dict[str, list[tuple[bytes, int, int]] | str] = {
    "gnu.tar": [(b"small.txt", R, 5), (b"small2.txt", R, 11)],
    "sparse-formats.tar": [(b"sparse-gnu", S, 200), (b"sparse-posix-0.0", R, 200), (b"sparse-posix-0.1", R, 200),
                           (b"sparse-posix-1.0", R, 200), (b"end", R, 4)],
    "star.tar": [(b"small.txt", R, 5), (b"small2.txt", R, 11)],
    "v7.tar": [(b"small.txt", R, 5), (b"small2.txt", R, 11)],
    "pax.tar": [(b"a/" + b"".join(str(n).encode() for n in range(1, 101)), R, 7), (b"a/b", ord("2"), 0)],
    "pax-bad-hdr-file.tar": "ErrHeader",
    "pax-bad-hdr-large.tar.bz2": "ErrFieldTooLong",
    "pax-bad-mtime-file.tar": "ErrHeader",
    "pax-pos-size-file.tar": [(b"foo", R, 999)],
    "pax-records.tar": [(b"file", R, 0)],
    "pax-global-records.tar": [(b"global1", ord("g"), 0), (b"file1", R, 0), (b"file2", R, 0),
                               (b"GlobalHead.0.0", ord("g"), 0), (b"file3", R, 0), (b"file4", R, 0)],
    "nil-uid.tar": [(b"P1050238.JPG.log", R, 14)],
    "xattrs.tar": [(b"small.txt", R, 5), (b"small2.txt", R, 11)],
    "gnu-multi-hdrs.tar": [(b"GNU2/GNU2/long-path-name", ord("2"), 0)],
    "gnu-incremental.tar": [(b"test2/", ord("D"), 14), (b"test2/foo", R, 64), (b"test2/sparse", S, 536870912)],
    "pax-multi-hdrs.tar": [(b"bar", ord("2"), 0)],
    "gnu-long-nul.tar": [(b"0123456789", R, 0)],
    "gnu-utf8.tar": [(("☺☻☹" * 18).encode(), R, 0)],
    "gnu-not-utf8.tar": [(b"hi\x80\x81\x82\x83bye", R, 0)],
    "pax-nul-xattrs.tar": "ErrHeader",
    "pax-nul-path.tar": "ErrHeader",
    "neg-size.tar": "ErrHeader",
    "issue10968.tar": "ErrHeader",
    "issue11169.tar": "ErrHeader",
    "issue12435.tar": "ErrHeader",
    "invalid-go17.tar": [(b"a" * 97 + b"/foo", R, 0)],
    "ustar-file-devs.tar": [(b"file", R, 0)],
    "gnu-nil-sparse-data.tar": [(b"sparse.db", S, 1000)],
    "gnu-nil-sparse-hole.tar": [(b"sparse.db", S, 1000)],
    "pax-nil-sparse-data.tar": [(b"sparse.db", R, 1000)],
    "pax-nil-sparse-hole.tar": [(b"sparse.db", R, 1000)],
    "trailing-slash.tar": [(b"123456789/" * 30, D, 0)],
}


def _testdata(name: str) -> bytes:
    raw = (GO_TESTDATA / name).read_bytes()
    return bz2.decompress(raw) if name.endswith(".bz2") else raw


@pytest.mark.parametrize("name", sorted(GO_EXPECTED))
def test_the_model_reads_go_testdata_as_go_testreader_expects(name: str) -> None:
    expected = GO_EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(go.GoTarError, match=expected):
            go.read_headers(_testdata(name))
        return
    headers = go.read_headers(_testdata(name))
    assert [(h.name, h.typeflag, h.size) for h in headers] == expected


@pytest.mark.parametrize("name", sorted(path.name for path in Path(GO_TESTDATA).glob("*.tar*")))
def test_gate_reads_go_testdata_as_go_does(name: str) -> None:
    assert_equivalent(_testdata(name))


@pytest.mark.parametrize("name", ["gnu.tar", "star.tar", "v7.tar", "pax.tar", "pax-records.tar", "pax-global-records.tar",
                                  "xattrs.tar", "gnu-multi-hdrs.tar", "pax-multi-hdrs.tar", "gnu-utf8.tar", "gnu-not-utf8.tar",
                                  "invalid-go17.tar", "ustar-file-devs.tar", "trailing-slash.tar", "nil-uid.tar", "gnu-long-nul.tar"])
def test_gate_reads_the_honest_go_testdata(name: str) -> None:
    assert gate_members(_testdata(name)) is not None
