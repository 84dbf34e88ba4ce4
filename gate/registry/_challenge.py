"""Parse ``WWW-Authenticate`` (RFC 9110 §11.6.1) into challenges.

Registries send ``Bearer realm="…",service="…",scope="…"``; some send several challenges in one
header, unquoted values, odd spacing or escaped quotes. This small tokenizer handles those so a
realm is never cut at a comma inside quotes (the mistake a ``split(",")`` makes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_UNQUOTED = re.compile(r"[^,\s]*")


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge: a lower-case scheme and its parameters (keys lower-cased)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """All challenges in a ``WWW-Authenticate`` value; unparseable trailing text is ignored."""
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        pos = _skip(header, pos, " \t,")
        scheme = _TOKEN.match(header, pos)
        if scheme is None:
            break
        pos = _skip(header, scheme.end(), " \t")
        token68 = _TOKEN68.match(header, pos)
        if token68 and _ends_item(header, token68.end()):
            challenges.append(Challenge(scheme.group().lower(), {"token68": token68.group()}))
            pos = token68.end()
            continue
        params, pos = _params(header, pos)
        challenges.append(Challenge(scheme.group().lower(), params))
    return challenges


def _params(header: str, pos: int) -> tuple[dict[str, str], int]:
    params: dict[str, str] = {}
    while True:
        start = _skip(header, pos, " \t,")
        name = _TOKEN.match(header, start)
        if name is None:
            return params, start
        after = _skip(header, name.end(), " \t")
        if after >= len(header) or header[after] != "=":
            return params, start  # a bare token: the next challenge's scheme (or a token68)
        value, pos = _value(header, _skip(header, after + 1, " \t"))
        params[name.group().lower()] = value


def _value(header: str, pos: int) -> tuple[str, int]:
    if pos < len(header) and header[pos] == '"':
        out, pos = [], pos + 1
        while pos < len(header) and header[pos] != '"':
            if header[pos] == "\\" and pos + 1 < len(header):
                pos += 1
            out.append(header[pos])
            pos += 1
        return "".join(out), pos + 1
    unquoted = _UNQUOTED.match(header, pos)  # matches the empty string too, so never None
    end = unquoted.end() if unquoted is not None else pos
    return header[pos:end], end


def _ends_item(header: str, pos: int) -> bool:
    pos = _skip(header, pos, " \t")
    return pos == len(header) or header[pos] == ","


def _skip(header: str, pos: int, chars: str) -> int:
    while pos < len(header) and header[pos] in chars:
        pos += 1
    return pos
