"""user.root facts: the config User resolved through the image's /etc/passwd."""

from __future__ import annotations

import pytest

from gate.scan import resolve_user

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
toor:x:0:0:alias:/root:/bin/sh
app:x:1000:1000::/home/app:/bin/sh
# comment:x:0:0
broken line
"""


@pytest.mark.parametrize(
    ("user", "passwd", "expected"),
    [
        ("", PASSWD, ("", 0, True, "default")),
        (None, None, ("", 0, True, "default")),
        ("root", PASSWD, ("root", 0, True, "passwd")),
        ("root", None, ("root", None, True, "unresolved")),  # runc: unable to find user root
        ("0", None, ("0", 0, True, "numeric")),
        ("0", PASSWD, ("root", 0, True, "numeric")),
        ("0:0", PASSWD, ("root", 0, True, "numeric")),
        ("0:1000", PASSWD, ("root", 0, True, "numeric")),
        ("toor", PASSWD, ("toor", 0, True, "passwd")),
        ("toor:toor", PASSWD, ("toor", 0, True, "passwd")),
        ("app", PASSWD, ("app", 1000, False, "passwd")),
        ("app:0", PASSWD, ("app", 1000, False, "passwd")),
        ("1000", None, ("1000", 1000, False, "numeric")),
        ("1000:0", PASSWD, ("app", 1000, False, "numeric")),
        ("65534", PASSWD, ("65534", 65534, False, "numeric")),
        ("nobody", PASSWD, ("nobody", None, True, "unresolved")),
        ("app", None, ("app", None, True, "unresolved")),
        ("-1", PASSWD, ("-1", -1, True, "out-of-range")),
    ],
)
def test_resolve_user(user: str | None, passwd: str | None, expected: tuple) -> None:
    fact = resolve_user(user, passwd)
    assert (fact.name, fact.uid, fact.is_root, fact.resolved_by) == expected
    assert fact.to_fact() == dict(zip(("name", "uid", "is_root", "resolved_by"), expected, strict=True))
    assert fact.reason
