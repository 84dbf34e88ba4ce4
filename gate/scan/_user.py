"""Who the image runs as (user.root): the config ``User`` resolved exactly as the runtime resolves it.

The reference is github.com/moby/sys/user (formerly runc's ``libcontainer/user``), which runc,
Docker and containerd use: ``GetExecUser`` and ``ParsePasswdFilter``. Their rules, followed here:

- ``/etc/passwd`` is read line by line (``\\n``, a trailing ``\\r`` dropped); each line is trimmed of
  Unicode white space (Go's ``bytes.TrimSpace``); empty lines are skipped, ``#`` lines are *not*
  comments; fields are split on ``:`` and a missing field keeps its zero value.
- A uid field is read with Go's ``strconv.Atoi`` and its error ignored: ``abc``, `` 1000`` or a
  missing field read as 0 (root), ``+5`` as 5, a huge number as the largest int64.
- ``User`` is ``user[:group]``; an empty user part means uid 0. A user part that ``Atoi`` reads is
  a uid (``+1000`` is 1000; non-ASCII digits are a name); outside 0..2^31-1 the runtime refuses it.
  Otherwise it is a name; the first passwd line with that uid or name wins.

containerd (before 1.7.27 / 2.0.4, CVE-2024-40635) casts a uid to uint32 without a range check,
so 4294967296 runs as root; and a resolved uid outside 0..2^31-1 is never a harmless user. Such a
uid is reported ``out-of-range`` and counts as root; the kubelet's ``runAsNonRoot`` check reads it
as non-zero, so the policy does not let ``runAsNonRoot`` excuse it. A user the runtime cannot
resolve (a name not in passwd, a malformed spec) is ``unresolved`` and counts as root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gate._gotext import GO_SPACE
from gate.errors import EvidenceError

MAX_ID = 2**31 - 1  # moby/sys user maxID: ids must fit a signed 32-bit int
_INT64_MAX = 2**63 - 1
_LINE_MAX = 64 * 1024 - 1  # bufio.Scanner's default token limit, with its newline


@dataclass(frozen=True)
class UserFact:
    """The effective user: ``resolved_by`` is ``numeric``, ``passwd``, ``default``, ``out-of-range`` or ``unresolved``."""

    name: str
    uid: int | None
    is_root: bool
    resolved_by: str
    reason: str

    def to_fact(self) -> dict[str, Any]:
        """The policy input ``user`` object (docs/input.schema.json)."""
        return {"name": self.name, "uid": self.uid, "is_root": self.is_root, "resolved_by": self.resolved_by}


class _Unresolvable(EvidenceError):
    """The runtime would refuse to start the container with this user (moby's GetExecUser errors)."""


def go_atoi(text: str) -> tuple[int, str | None]:
    """Go's ``strconv.Atoi`` on 64-bit: (value, error) with error ``syntax`` or ``range``.

    Optional ``+``/``-``, then ASCII digits only; on overflow the value is clamped to int64, as Go
    returns it; on a syntax error the value is 0.
    """
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not all("0" <= char <= "9" for char in digits):
        return 0, "syntax"
    value = int(digits) * (-1 if text[:1] == "-" else 1)
    if value > _INT64_MAX:
        return _INT64_MAX, "range"
    if value < -_INT64_MAX - 1:
        return -_INT64_MAX - 1, "range"
    return value, None


def passwd_entries(passwd: str) -> list[tuple[str, int]]:
    """(name, uid) per line, as moby/sys ``ParsePasswdFilter`` reads them.

    Raises:
        _Unresolvable: a line longer than Go's scanner accepts (the runtime fails to read the file).
    """
    entries = []
    for raw in passwd.split("\n"):
        line = raw.removesuffix("\r")
        if len(line.encode("utf-8", "surrogateescape")) > _LINE_MAX:
            raise _Unresolvable("an /etc/passwd line is longer than the runtime reads")
        line = line.strip(GO_SPACE)
        if line:
            fields = line.split(":")
            entries.append((fields[0], go_atoi(fields[2])[0] if len(fields) > 2 else 0))
    return entries


def _spec_id(part: str) -> int | None:
    """moby's ``parseNumeric``: the id of a numeric spec part, None for a name.

    Raises:
        _Unresolvable: a number outside 0..2^31-1 (``ErrRange``).
    """
    value, error = go_atoi(part)
    if error == "syntax":
        return None
    if error == "range" or not 0 <= value <= MAX_ID:
        raise _Unresolvable(f"{part!r} is outside the uid/gid range 0..{MAX_ID}")
    return value


def resolve_user(config_user: str | None, passwd_text: str | None) -> UserFact:
    """Resolve the config ``User`` (``name``, ``uid``, ``name:group``, ``uid:gid``) to a uid, as the runtime does."""
    # Go's JSON decoder turns a lone surrogate escape into U+FFFD; compare names as the runtime sees them.
    spec = "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in config_user or "")
    try:
        return _resolve(spec, passwd_text)
    except _Unresolvable as exc:
        return UserFact(spec, None, True, "unresolved", f"USER {spec} cannot be resolved ({exc}); the runtime would not run it as a known user, so it is treated as root")


def _resolve(spec: str, passwd_text: str | None) -> UserFact:
    user, _, group = spec.partition(":")
    if ":" in group:
        raise _Unresolvable("containerd accepts only user[:group]")
    if group:
        _spec_id(group)
    number, error = go_atoi(user)
    if error is None and not 0 <= number <= MAX_ID:
        # runc refuses it; containerd reads it with Atoi and casts it to uint32, and so may run as root.
        return _out_of_range(spec, user, number)
    wanted = _spec_id(user) if user else 0
    entries = passwd_entries(passwd_text) if passwd_text is not None else []
    match = next((entry for entry in entries if (entry[1] == wanted if wanted is not None else entry[0] == user)), None)
    if not user:
        name, uid, how = "", 0, "default"  # uid 0 unless passwd says otherwise; it cannot
    elif match is not None:
        name, uid = match
        how = "numeric" if wanted is not None else "passwd"
    elif wanted is not None:
        name, uid, how = user, wanted, "numeric"
    else:
        where = "the image has no /etc/passwd" if passwd_text is None else "/etc/passwd does not list it"
        raise _Unresolvable(f"user {user!r} is not a uid and {where}")
    if not 0 <= uid <= MAX_ID:
        return _out_of_range(spec, name, uid)
    alias = " (an alias of uid 0)" if uid == 0 and how == "passwd" and name != "root" else ""
    reason = {"passwd": f"/etc/passwd maps {name} to uid {uid}{alias}", "numeric": f"USER {spec} is uid {uid}"}.get(
        how, "no USER is set, so the container runs as uid 0")
    return UserFact(name, uid, uid == 0, how, reason)


def _out_of_range(spec: str, name: str, uid: int) -> UserFact:
    return UserFact(name, uid, True, "out-of-range",
                    f"USER {spec} resolves to uid {uid}, outside 0..{MAX_ID}: containerd truncates it (CVE-2024-40635), so it is treated as root")
