"""Who the image runs as (user.root): the config ``User`` resolved through the image's ``/etc/passwd``.

Root when ``User`` is empty (the default is uid 0), ``root``, ``0``, ``0:<group>``, or a name that
``/etc/passwd`` maps to uid 0 (an alias such as ``toor``). A name that cannot be resolved (no
passwd, or not listed) is reported ``unresolved`` and counted as root: unknown means deny, and the
runtime would refuse to start it anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UserFact:
    """The effective user: ``resolved_by`` is ``numeric``, ``passwd``, ``default`` or ``unresolved``."""

    name: str
    uid: int | None
    is_root: bool
    resolved_by: str
    reason: str

    def to_fact(self) -> dict[str, Any]:
        """The policy input ``user`` object (docs/input.schema.json)."""
        return {"name": self.name, "uid": self.uid, "is_root": self.is_root, "resolved_by": self.resolved_by}


def _passwd_entries(passwd_text: str | None) -> list[tuple[str, int]]:
    entries = []
    for line in (passwd_text or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] and not fields[0].startswith("#") and fields[2].isdigit():
            entries.append((fields[0], int(fields[2])))
    return entries


def resolve_user(config_user: str | None, passwd_text: str | None) -> UserFact:
    """Resolve the config ``User`` (``name``, ``uid``, ``name:group``, ``uid:gid``) to a uid."""
    user = (config_user or "").strip()
    if not user:
        return UserFact("", 0, True, "default", "no USER is set, so the container runs as uid 0")
    name = user.split(":", 1)[0]
    entries = _passwd_entries(passwd_text)
    if name.isdigit():
        uid = int(name)
        known = next((entry for entry, entry_uid in entries if entry_uid == uid), "")
        return UserFact(known or name, uid, uid == 0, "numeric", f"USER {user} is uid {uid}")
    for entry, uid in entries:
        if entry == name:
            alias = " (an alias of uid 0)" if uid == 0 and name != "root" else ""
            return UserFact(name, uid, uid == 0, "passwd", f"/etc/passwd maps {name} to uid {uid}{alias}")
    if name == "root":
        return UserFact(name, 0, True, "default", "USER root is uid 0")
    where = "the image has no /etc/passwd" if passwd_text is None else "/etc/passwd does not list it"
    return UserFact(name, None, True, "unresolved", f"USER {name} cannot be resolved ({where}); treated as root")
