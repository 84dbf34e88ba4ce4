"""Content-rule edges the third-party vectors do not pin down: PEM stand-ins, JWT and PyPI structure,
GitLab's ranged lengths next to routable tokens."""

from __future__ import annotations

import base64
import json

import pytest

from gate.scan import scan_file
from tests.scan._tokens import fake

_HEADER, _FOOTER = "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----"


def _detectors(content: str) -> list[str]:
    return [finding.detector for finding in scan_file("app/settings.txt", content.encode())]


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (f"{_HEADER}\n{fake('MIIE', 60, 'pem')}\n{_FOOTER}\n", True),
        (f"{_HEADER}\n{fake('MIIE', 40, 'truncated')}", True),  # cut short, no footer: still a key
        (f"KEY='{_HEADER}\\n{fake('MIIE', 40, 'escaped')}\\n{_FOOTER}'", True),  # JSON/env escapes
        (f"{_HEADER}\n...\n{_FOOTER}\n", False),
        (f"{_HEADER}\n<your key here>\n{_FOOTER}\n", False),
        (f'HEADER = "{_HEADER}"\nFOOTER = "{_FOOTER}"\n', False),  # string constants in code
        (f'if "{_HEADER}\\n" in pem:\n    load(pem)\n', False),
        # a decoy string constant first does not hide the key after it
        (f'HEADER = "{_HEADER}"\n{_HEADER}\n{fake("MIIE", 60, "after")}\n{_FOOTER}\n', True),
        (f"{_HEADER}\n{fake('MIIE', 40, 'cut')}\n{_HEADER}\n{fake('MIIE', 60, 'next')}\n{_FOOTER}\n", True),
    ],
)
def test_private_key_header_with_a_body_is_a_key_and_stand_ins_are_not(content: str, found: bool) -> None:
    assert ("private-key" in _detectors(content)) is found


def _b64url(document: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_jwt_needs_json_header_and_payload() -> None:
    header, payload = _b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": fake("", 12, "sub")})
    signature = fake("", 43, "signature")
    assert _detectors(f"{header}.{payload}.{signature}") == ["jwt"]
    assert _detectors(f"{header[:-1]}.{payload}.{signature}") == []  # header cut: not JSON


def test_pypi_token_must_be_a_whole_macaroon() -> None:
    identifier = fake("", 36, "pypi-id").encode()
    caveat = b'[1,["project"]]'
    macaroon = (b"\x02\x01\x08pypi.org\x02\x24" + identifier + b"\x00\x02" + bytes([len(caveat)]) + caveat
                + b"\x00\x00\x06\x20" + fake("", 32, "pypi-sig").encode())
    token = "pypi-" + base64.urlsafe_b64encode(macaroon).decode().rstrip("=")
    assert _detectors(token) == ["pypi-upload-token"]
    assert _detectors(token[:100]) == []


def test_gitlab_ranged_tokens_and_routable_tokens_are_reported_once() -> None:
    assert _detectors(fake("glsoat-", 50, "scim")) == ["gitlab-scim-token"]
    assert _detectors(fake("glsoat-", 51, "scim")) == []
    routable = fake("glpat-", 40, "routable") + "." + fake("", 9, "crc", "abcdefghijklmnopqrstuvwxyz0123456789")
    assert _detectors(routable) == ["gitlab-pat-routable"]
