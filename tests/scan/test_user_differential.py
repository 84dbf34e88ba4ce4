"""gate's USER / passwd resolution against a model of moby/sys user and containerd (``_moby_user_model``).

For every (USER, /etc/passwd) pair: where the runtime refuses, gate says ``unresolved`` (root);
where it picks a uid, gate picks the same uid, and a uid outside 0..2^31-1 (which containerd truncates
to 32 bits, CVE-2024-40635) is root for gate.
"""

from __future__ import annotations

import itertools

import pytest

from gate.scan import resolve_user
from tests.scan import _moby_user_model as moby

SPECS = [
    "", "app", "root", "toor", "0", "1000", "+1000", "-1000", "01000", " 1000", "1000 ", "0x3e8", "1_000", "1e3",
    "１０００", "١٠٠٠", "²", "4294967296", "+4294967296", "-4294967296", "2147483647", "2147483648",
    "99999999999999999999", "app:", ":1000", "app:app", "app:1000", "app:-1", "app:99999999999", "app:grp:x", "1000:0",
    "#app", " app", "app ", "\ufffd", "\x1capp", "ghost",
]
PASSWDS = {
    "none": None,
    "plain": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    "first match wins": "app:x:0:0::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    "non-numeric uid reads 0": "app:x:abc:0::/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    "space in uid field": "app:x: 1000:0::/:/bin/sh\n",
    "signed uid": "app:x:+1000:0::/:/bin/sh\nneg:x:-1:0::/:/bin/sh\n",
    "huge uid": "app:x:4294967296:0::/:/bin/sh\nbig:x:99999999999999999999:0::/:/bin/sh\n",
    "short lines": "app\nroot:x\n1000:x:1000:1000::/:/bin/sh\n",
    "comment is a name": "#app:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n",
    "trimmed": "  app:x:0:0::/:/bin/sh  \r\n\t\napp:x:1000:0::/:/bin/sh\n",
    "unicode space trimmed": "\u00a0app:x:0:0::/:/bin/sh\u3000\napp:x:1000:0::/:/bin/sh\n",
    "separator not trimmed": "\x1capp:x:0:0::/:/bin/sh\napp:x:1000:0::/:/bin/sh\n",
    "crlf": "app:x:1000:0::/:/bin/sh\r\nroot:x:0:0::/:/bin/sh\r\n",
    "form feed is not a line break": "app:x:1000:0::/:/bin/sh\x0croot:x:0:0::/:/bin/sh\n",
    "unicode digits": "١٠٠٠:x:0:0::/:/bin/sh\n",
    "invalid utf-8 name": b"\xff:x:1000:0::/:/bin/sh\n\xef\xbf\xbd:x:0:0::/:/bin/sh\n".decode("utf-8", "surrogateescape"),
    "no trailing newline": "root:x:0:0::/:/bin/sh\napp:x:1000:0::/:/bin/sh",
    "line too long": "app:x:1000:0::/:" + "x" * 70000 + "\n",
    "uid zero padded": "app:x:0001000:0::/:/bin/sh\n",
    "numeric name": "1000:x:0:0::/:/bin/sh\n",
}


def _reference(spec: str, passwd: str | None) -> int | None:
    """The uid a runtime runs with, or None when every runtime refuses.

    runc refuses a numeric USER outside 0..2^31-1, but containerd reads it with Atoi and runs it
    (truncated to 32 bits before CVE-2024-40635 was fixed): that uid is the reference then.
    """
    if not moby.containerd_spec_ok(spec):
        return None
    number, error = moby.parse_int(spec.partition(":")[0].encode())
    if error is None and not 0 <= number <= moby.MAX_ID and moby.group_ok(spec):
        return number
    try:
        return moby.exec_uid(spec, passwd.encode("utf-8", "surrogateescape") if passwd is not None else None)
    except moby.GoError:
        return None


@pytest.mark.parametrize(("spec", "passwd_case"), list(itertools.product(SPECS, PASSWDS)))
def test_gate_resolves_user_as_moby_and_containerd(spec: str, passwd_case: str) -> None:
    passwd = PASSWDS[passwd_case]
    expected = _reference(spec, passwd)
    fact = resolve_user(spec, passwd)
    if expected is None:
        assert (fact.resolved_by, fact.is_root) == ("unresolved", True), fact
    elif 0 <= expected <= moby.MAX_ID:
        assert (fact.uid, fact.is_root) == (expected, expected == 0), fact
    else:
        assert (fact.uid, fact.is_root, fact.resolved_by) == (expected, True, "out-of-range"), fact


MOBY_PASSWD = b"""
root:x:0:0:root user:/root:/bin/bash
adm:x:42:43:adm:/var/adm:/bin/false
111:x:222:333::/var/garbage
odd:x:111:112::/home/odd:::::
2147483647:x:0:0:maxint32:/root:/bin/bash
2147483648:x:0:0:toolarge:/root:/bin/bash
9223372036854775807:x:0:0:maxint64:/root:/bin/bash
user7456:x:7456:100:Vasya:/home/user7456
this is just some garbage data
"""


@pytest.mark.parametrize(("spec", "uid"), [
    ("root", 0), ("adm", 42), ("root:adm", 0), ("adm:1234", 42), ("42:1234", 42), ("1337:1234", 1337), ("1337", 1337),
    ("", 0), ("111", 111), ("2147483647", 2147483647),
    ("2147483648", None), ("9223372036854775807", None), ("-1", None), ("notauser", None), ("1:-1", None),
])
def test_model_and_gate_agree_on_moby_user_test_cases(spec: str, uid: int | None) -> None:
    """TestGetExecUser / TestGetExecUserInvalid of moby/sys user/user_test.go (uids only), rebuilt by hand."""
    try:
        modelled: int | None = moby.exec_uid(spec, MOBY_PASSWD)
    except moby.GoError:
        modelled = None
    assert modelled == uid
    fact = resolve_user(spec, MOBY_PASSWD.decode())
    if uid is None:  # runc refuses; containerd may run a numeric one truncated: root either way
        assert fact.is_root and fact.resolved_by in ("unresolved", "out-of-range")
    else:
        assert fact.uid == uid
