"""A model of Go's ``archive/tar`` reader (Go 1.19: src/archive/tar/reader.go, format.go, strconv.go,
common.go), written from its source to check gate's tar reader against.

It follows ``Reader.Next`` call by call: ``readHeader`` (format from the checksum and magic, every
numeric field through ``parseNumeric``, the prefix per format), ``handleRegularFile``,
``parsePAX`` / ``parsePAXRecord`` / ``validPAXRecord``, ``mergePAX``, GNU long names and links,
the ``TypeRegA`` trailing-slash rule, and ``handleSparseFile`` as far as it moves the stream and
renames the member (old GNU sparse maps with extension blocks, PAX sparse 0.0/0.1/1.0). It yields
the headers Go returns (name, link name, type flag, size), or raises ``GoTarError`` where Go's
``Next`` returns an error. It reads a whole archive held in memory; no file contents.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 512
MAX_SPECIAL_FILE = 1 << 20
INT64_MAX = (1 << 63) - 1
HEADER_ONLY = {ord(flag) for flag in "123456"}
OCTAL_DIGITS = frozenset(b"01234567")
DECIMAL_DIGITS = frozenset(b"0123456789")


class GoTarError(Exception):
    """Go's Next returned an error (ErrHeader, ErrFieldTooLong, io.ErrUnexpectedEOF)."""


@dataclass
class GoHeader:
    name: bytes
    linkname: bytes
    typeflag: int
    size: int
    pax: dict[bytes, bytes] | None = None
    data: bytes | None = None  # the member's content as Read returns it; None for sparse members


class _Parser:
    """Go's ``parser``: remembers the first error, returns zero values."""

    def __init__(self) -> None:
        self.err = False

    @staticmethod
    def parse_string(b: bytes) -> bytes:
        n = 0
        while n < len(b) and b[n] != 0:
            n += 1
        return b[:n]

    def parse_numeric(self, b: bytes) -> int:
        if len(b) > 0 and b[0] & 0x80 != 0:
            inv = 0xFF if b[0] & 0x40 != 0 else 0x00
            x = 0
            for i, c in enumerate(b):
                c ^= inv
                if i == 0:
                    c &= 0x7F
                if x >> 56 > 0:
                    self.err = True
                    return 0
                x = (x << 8 | c) & ((1 << 64) - 1)
            if x >> 63 > 0:
                self.err = True
                return 0
            return ~x if inv == 0xFF else x
        return self.parse_octal(b)

    def parse_octal(self, b: bytes) -> int:
        start, end = 0, len(b)
        while start < end and b[start] in b" \x00":
            start += 1
        while end > start and b[end - 1] in b" \x00":
            end -= 1
        b = b[start:end]
        if len(b) == 0:
            return 0
        text = self.parse_string(b)
        if not text or any(c not in OCTAL_DIGITS for c in text) or int(text, 8) >= 1 << 64:
            self.err = True
            return 0
        return int(text, 8)


def parse_int(s: bytes) -> int | None:
    """strconv.ParseInt(s, 10, 64); None for an error."""
    body = s[1:] if s[:1] in (b"+", b"-") else s
    if not body or any(c not in DECIMAL_DIGITS for c in body):
        return None
    value = -int(body) if s[:1] == b"-" else int(body)
    return value if -INT64_MAX - 1 <= value <= INT64_MAX else None


def _checksums(blk: bytes) -> tuple[int, int]:
    unsigned = signed = 0
    for i, c in enumerate(blk):
        if 148 <= i < 156:
            c = ord(" ")
        unsigned += c
        signed += c - 256 if c >= 128 else c
    return unsigned, signed


V7, USTAR_PAX, GNU, STAR, UNKNOWN = "v7", "ustar|pax", "gnu", "star", "unknown"


def get_format(blk: bytes) -> str:
    p = _Parser()
    value = p.parse_octal(blk[148:156])
    if p.err or value not in _checksums(blk):
        return UNKNOWN
    magic, version, trailer = blk[257:263], blk[263:265], blk[508:512]
    if magic == b"ustar\x00" and trailer == b"tar\x00":
        return STAR
    if magic == b"ustar\x00":
        return USTAR_PAX
    if magic == b"ustar " and version == b" \x00":
        return GNU
    return V7


def _is_ascii(s: bytes) -> bool:
    text = s.decode("utf-8", "replace")
    return all(ord(c) < 0x80 and c != "\x00" for c in text)


def parse_pax_record(s: bytes) -> tuple[bytes, bytes, bytes]:
    n_str, sep, rest = s.partition(b" ")
    if not sep:
        raise GoTarError("ErrHeader")
    n = parse_int(n_str)
    if n is None or n < 5 or n > len(s):
        raise GoTarError("ErrHeader")
    n -= len(n_str) + 1
    if n <= 0:
        raise GoTarError("ErrHeader")
    rec, nl, rem = rest[: n - 1], rest[n - 1 : n], rest[n:]
    if nl != b"\n":
        raise GoTarError("ErrHeader")
    k, eq, v = rec.partition(b"=")
    if not eq:
        raise GoTarError("ErrHeader")
    valid = k != b"" and b"=" not in k and (b"\x00" not in v if k in (b"path", b"linkpath", b"uname", b"gname") else b"\x00" not in k)
    if not valid:
        raise GoTarError("ErrHeader")
    return k, v, rem


def parse_pax(buf: bytes) -> dict[bytes, bytes]:
    sparse_map: list[bytes] = []
    hdrs: dict[bytes, bytes] = {}
    while buf:
        key, value, buf = parse_pax_record(buf)
        if key in (b"GNU.sparse.offset", b"GNU.sparse.numbytes"):
            if (len(sparse_map) % 2 == 0 and key != b"GNU.sparse.offset") or (
                    len(sparse_map) % 2 == 1 and key != b"GNU.sparse.numbytes") or b"," in value:
                raise GoTarError("ErrHeader")
            sparse_map.append(value)
        else:
            hdrs[key] = value
    if sparse_map:
        hdrs[b"GNU.sparse.map"] = b",".join(sparse_map)
    return hdrs


def parse_pax_time(s: bytes) -> bool:
    ss, _, sn = s.partition(b".")
    if parse_int(ss) is None:
        return False
    return not sn.strip(b"0123456789")


def merge_pax(hdr: GoHeader, pax: dict[bytes, bytes] | None) -> None:
    for k, v in (pax or {}).items():
        if v == b"":
            continue
        ok = True
        if k == b"path":
            hdr.name = v
        elif k == b"linkpath":
            hdr.linkname = v
        elif k in (b"uid", b"gid"):
            ok = parse_int(v) is not None
        elif k in (b"atime", b"mtime", b"ctime"):
            ok = parse_pax_time(v)
        elif k == b"size":
            size = parse_int(v)
            ok = size is not None
            hdr.size = size if size is not None else hdr.size
        if not ok:
            raise GoTarError("ErrHeader")
    hdr.pax = pax


def validate_sparse_entries(sp: list[tuple[int, int]], size: int) -> bool:
    if size < 0:
        return False
    pre_end = 0
    for offset, length in sp:
        if offset < 0 or length < 0 or offset > INT64_MAX - length or offset + length > size or pre_end > offset:
            return False
        pre_end = offset + length
    return True


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.pad, self.remaining = data, 0, 0, 0

    # --- the underlying io.Reader -------------------------------------------------------------
    def _read_full(self, n: int) -> bytes | None:
        """io.ReadFull: None for io.EOF (nothing read); raises for a partial read."""
        chunk = self.data[self.pos : self.pos + n]
        if not chunk and n > 0:
            return None
        if len(chunk) < n:
            raise GoTarError("ErrUnexpectedEOF")
        self.pos += n
        return chunk

    def _discard(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise GoTarError("ErrUnexpectedEOF")
        self.pos += n

    # --- the current file -----------------------------------------------------------------
    def _read_file(self, n: int) -> bytes:
        """Read from the current entry (regFileReader): at most what remains of it."""
        n = min(n, self.remaining)
        chunk = self.data[self.pos : self.pos + n]
        if len(chunk) < n:
            raise GoTarError("ErrUnexpectedEOF")
        self.pos += n
        self.remaining -= n
        return chunk

    def _read_special_file(self) -> bytes:
        buf = self._read_file(MAX_SPECIAL_FILE + 1)
        if len(buf) > MAX_SPECIAL_FILE:
            raise GoTarError("ErrFieldTooLong")
        return buf

    def _handle_regular_file(self, hdr: GoHeader) -> None:
        nb = 0 if hdr.typeflag in HEADER_ONLY else hdr.size
        if nb < 0:
            raise GoTarError("ErrHeader")
        self.pad = -nb & (BLOCK - 1)
        self.remaining = nb

    # --- Next -------------------------------------------------------------------------------
    def next(self) -> GoHeader | None:
        pax: dict[bytes, bytes] | None = None
        long_name = long_link = b""
        while True:
            self._discard(self.remaining)
            self.remaining = 0
            self.pos = min(self.pos + self.pad, len(self.data))  # tryReadFull: EOF in padding is fine
            self.pad = 0
            read = self._read_header()
            if read is None:
                return None
            hdr, raw = read
            self._handle_regular_file(hdr)
            if hdr.typeflag in (ord("x"), ord("g")):
                pax = parse_pax(self._read_special_file())
                if hdr.typeflag == ord("g"):
                    try:
                        merge_pax(hdr, pax)
                    except GoTarError:
                        pass  # Go ignores mergePAX's error here
                    return GoHeader(hdr.name, b"", hdr.typeflag, 0, pax)
                continue
            if hdr.typeflag in (ord("L"), ord("K")):
                realname = _Parser.parse_string(self._read_special_file())
                if hdr.typeflag == ord("L"):
                    long_name = realname
                else:
                    long_link = realname
                continue
            merge_pax(hdr, pax)
            if long_name:
                hdr.name = long_name
            if long_link:
                hdr.linkname = long_link
            if hdr.typeflag == 0:
                hdr.typeflag = ord("5") if hdr.name.endswith(b"/") else ord("0")
            self._handle_regular_file(hdr)
            if not self._handle_sparse_file(hdr, raw):
                hdr.data = self.data[self.pos : self.pos + self.remaining]
            return hdr

    def _read_header(self) -> tuple[GoHeader, bytes] | None:
        blk = self._read_full(BLOCK)
        if blk is None:
            return None
        if blk == bytes(BLOCK):
            blk2 = self._read_full(BLOCK)
            if blk2 is None or blk2 == bytes(BLOCK):
                return None
            raise GoTarError("ErrHeader")
        fmt = get_format(blk)
        if fmt == UNKNOWN:
            raise GoTarError("ErrHeader")
        p = _Parser()
        hdr = GoHeader(p.parse_string(blk[0:100]), p.parse_string(blk[157:257]), blk[156], 0)
        hdr.size = p.parse_numeric(blk[124:136])
        for field in (blk[100:108], blk[108:116], blk[116:124], blk[136:148]):
            p.parse_numeric(field)
        if fmt != V7:
            p.parse_numeric(blk[329:337])
            p.parse_numeric(blk[337:345])
            prefix = b""
            if fmt == USTAR_PAX:
                prefix = p.parse_string(blk[345:500])
            elif fmt == STAR:
                prefix = p.parse_string(blk[345:476])
                p.parse_numeric(blk[476:488])
                p.parse_numeric(blk[488:500])
            else:  # GNU
                p2 = _Parser()
                if blk[345] != 0:
                    p2.parse_numeric(blk[345:357])
                if blk[357] != 0:
                    p2.parse_numeric(blk[357:369])
                if p2.err:
                    s = p.parse_string(blk[345:500])
                    if _is_ascii(s):
                        prefix = s
            if prefix:
                hdr.name = prefix + b"/" + hdr.name
        if p.err:
            raise GoTarError("ErrHeader")
        return hdr, blk

    # --- sparse files -------------------------------------------------------------------------
    def _handle_sparse_file(self, hdr: GoHeader, raw: bytes) -> bool:
        """Read a sparse map where there is one; True for a sparse member."""
        if hdr.typeflag == ord("S"):
            spd = self._read_old_gnu_sparse_map(hdr, raw)
        else:
            spd = self._read_gnu_sparse_pax_headers(hdr)
        if spd is not None and (hdr.typeflag in HEADER_ONLY or not validate_sparse_entries(spd, hdr.size)):
            raise GoTarError("ErrHeader")
        return spd is not None

    def _read_old_gnu_sparse_map(self, hdr: GoHeader, blk: bytes) -> list[tuple[int, int]]:
        if get_format(blk) != GNU:
            raise GoTarError("ErrHeader")
        p = _Parser()
        hdr.size = p.parse_numeric(blk[483:495])
        if p.err:
            raise GoTarError("ErrHeader")
        area, entries = blk[386:483], 4
        spd = []
        while True:
            for i in range(entries):
                entry = area[i * 24 : i * 24 + 24]
                if entry[0] == 0:
                    break
                offset, length = p.parse_numeric(entry[:12]), p.parse_numeric(entry[12:24])
                if p.err:
                    raise GoTarError("ErrHeader")
                spd.append((offset, length))
            if area[24 * entries] > 0:
                ext = self._read_full(BLOCK)
                if ext is None:
                    raise GoTarError("ErrUnexpectedEOF")
                area, entries = ext, 21
                continue
            return spd

    def _read_gnu_sparse_pax_headers(self, hdr: GoHeader) -> list[tuple[int, int]] | None:
        recs = hdr.pax or {}
        major, minor = recs.get(b"GNU.sparse.major", b""), recs.get(b"GNU.sparse.minor", b"")
        if major == b"0" and minor in (b"0", b"1"):
            is1x0 = False
        elif major == b"1" and minor == b"0":
            is1x0 = True
        elif major or minor:
            return None
        elif recs.get(b"GNU.sparse.map", b""):
            is1x0 = False
        else:
            return None
        if recs.get(b"GNU.sparse.name", b""):
            hdr.name = recs[b"GNU.sparse.name"]
        size = recs.get(b"GNU.sparse.size", b"") or recs.get(b"GNU.sparse.realsize", b"")
        if size:
            n = parse_int(size)
            if n is None:
                raise GoTarError("ErrHeader")
            hdr.size = n
        return self._sparse_map_1x0() if is1x0 else _sparse_map_0x1(recs)

    def _sparse_map_1x0(self) -> list[tuple[int, int]]:
        buf = b""
        newlines = 0

        def feed(n: int) -> None:
            nonlocal buf, newlines
            while newlines < n:
                if self.remaining < BLOCK:
                    raise GoTarError("ErrUnexpectedEOF")
                blk = self._read_file(BLOCK)
                buf += blk
                newlines += blk.count(b"\n")

        def token() -> bytes:
            nonlocal buf, newlines
            newlines -= 1
            tok, _, buf = buf.partition(b"\n")
            return tok

        feed(1)
        count = parse_int(token())
        if count is None or count < 0:
            raise GoTarError("ErrHeader")
        feed(2 * count)
        spd = []
        for _ in range(count):
            offset, length = parse_int(token()), parse_int(token())
            if offset is None or length is None:
                raise GoTarError("ErrHeader")
            spd.append((offset, length))
        return spd


def _sparse_map_0x1(recs: dict[bytes, bytes]) -> list[tuple[int, int]]:
    count = parse_int(recs.get(b"GNU.sparse.numblocks", b""))
    if count is None or count < 0:
        raise GoTarError("ErrHeader")
    parts = recs.get(b"GNU.sparse.map", b"").split(b",")
    if parts == [b""]:
        parts = []
    if len(parts) != 2 * count:
        raise GoTarError("ErrHeader")
    spd = []
    for i in range(0, len(parts), 2):
        offset, length = parse_int(parts[i]), parse_int(parts[i + 1])
        if offset is None or length is None:
            raise GoTarError("ErrHeader")
        spd.append((offset, length))
    return spd


def read_headers(data: bytes) -> list[GoHeader]:
    """Every header ``Next`` returns until io.EOF; raises GoTarError where Next fails."""
    reader = Reader(data)
    headers = []
    while (header := reader.next()) is not None:
        headers.append(header)
    return headers
