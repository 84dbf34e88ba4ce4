"""A model of github.com/moby/sys/user ``GetExecUser`` (user.go, user_utils.go) and of containerd's
``oci.WithUser`` uid cast, written from their Go source to check gate's resolver against.

It mirrors the Go code path by path on bytes (``bufio.Scanner`` lines, ``bytes.TrimSpace``,
``strconv.Atoi`` with its error ignored in ``parseLine``, ``parseNumeric`` with ErrRange), so a
difference from ``gate.scan._user`` shows up as a failing differential test.
"""

from __future__ import annotations

MIN_ID, MAX_ID = 0, (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
MAX_SCAN_TOKEN = 64 * 1024
# unicode.IsSpace: '\t', '\n', '\v', '\f', '\r', ' ', U+0085, U+00A0, and the Zs/Zl/Zp white space.
GO_WHITE_SPACE = frozenset([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000])


class GoError(Exception):
    """GetExecUser returned an error: the runtime refuses to start the container."""


def parse_int(text: bytes) -> tuple[int, str | None]:
    """strconv.ParseInt(s, 10, 64): sign, then ParseUint's digit loop with its cutoff."""
    if not text:
        return 0, "syntax"
    negative = text[:1] == b"-"
    if text[:1] in (b"+", b"-"):
        text = text[1:]
        if not text:
            return 0, "syntax"
    value, overflow = 0, False
    for byte in text:
        if not 0x30 <= byte <= 0x39:
            return 0, "syntax"
        value = value * 10 + byte - 0x30
        if value > (1 << 64) - 1:
            overflow = True
    if overflow:
        value = (1 << 64) - 1
    if not negative and value > INT64_MAX:
        return INT64_MAX, "range"
    if negative and value > -INT64_MIN:
        return INT64_MIN, "range"
    return (-value if negative else value), None


def trim_space(line: bytes) -> bytes:
    """bytes.TrimSpace: strips leading and trailing runes for which unicode.IsSpace holds."""
    text = line.decode("utf-8", "surrogateescape")
    start, end = 0, len(text)
    while start < end and ord(text[start]) in GO_WHITE_SPACE:
        start += 1
    while end > start and ord(text[end - 1]) in GO_WHITE_SPACE:
        end -= 1
    return text[start:end].encode("utf-8", "surrogateescape")


def scan_lines(data: bytes) -> list[bytes]:
    """bufio.Scanner with ScanLines: split on \\n, drop one trailing \\r; a long token is an error."""
    lines = []
    rest = data
    while rest:
        newline = rest.find(b"\n")
        line, rest = (rest, b"") if newline < 0 else (rest[:newline], rest[newline + 1 :])
        if len(line) + (1 if newline >= 0 else 0) > MAX_SCAN_TOKEN:
            raise GoError("bufio.Scanner: token too long")
        lines.append(line[:-1] if line.endswith(b"\r") else line)
    return lines


def parse_passwd(data: bytes) -> list[tuple[bytes, int]]:
    """ParsePasswdFilter without a filter: (Name, Uid) of every non-empty trimmed line."""
    users = []
    for raw in scan_lines(data):
        line = trim_space(raw)
        if not line:
            continue
        parts = line.split(b":")
        uid = parse_int(parts[2])[0] if len(parts) > 2 else 0  # *e, _ = strconv.Atoi(...)
        users.append((parts[0], uid))
    return users


def parse_numeric(value: bytes) -> tuple[int, bool]:
    """parseNumeric: (id, isNumeric); ErrRange raises."""
    number, error = parse_int(value)
    if error == "syntax":
        return 0, False
    if error == "range" or number < MIN_ID or number > MAX_ID:
        raise GoError("uids and gids must be in range")
    return number, True


def exec_uid(spec: str, passwd: bytes | None) -> int:
    """GetExecUser(spec, nil, passwd, nil).Uid; raises GoError where it returns an error."""
    raw = spec.encode("utf-8")
    user, _, group = raw.partition(b":")
    if group:
        parse_numeric(group)
    uid = 0
    user_arg = None if not user else (user, *parse_numeric(user))
    users = parse_passwd(passwd) if passwd is not None else []
    if user_arg is None:
        matches = [u for u in users if u[1] == uid]
    elif user_arg[2]:
        matches = [u for u in users if u[1] == user_arg[1]]
    else:
        matches = [u for u in users if u[0] == user_arg[0]]
    if matches:
        return matches[0][1]
    if user_arg is not None:
        if not user_arg[2]:
            raise GoError("unable to find user")
        return user_arg[1]
    return uid


def group_ok(spec: str) -> bool:
    """Whether GetExecUser accepts the group part's number (parseGroupArg's ErrRange)."""
    try:
        group = spec.encode("utf-8").partition(b":")[2]
        return not group or parse_numeric(group) is not None
    except GoError:
        return False


def containerd_spec_ok(spec: str) -> bool:
    """containerd's WithUser splits on ':' and refuses more than two parts."""
    return spec.count(":") <= 1
