"""Real-shaped fake tokens, derived at import time so no token-shaped literal sits in the repository
(push-protection scanners would flag it, and a scanner's own tests should not teach it to leak)."""

from __future__ import annotations

import hashlib

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def fake(prefix: str, length: int, seed: str, alphabet: str = _ALPHABET) -> str:
    """``prefix`` + ``length`` characters from ``alphabet``, deterministic per ``seed``."""
    digest = hashlib.sha512(seed.encode()).digest() * (length // 64 + 1)
    return prefix + "".join(alphabet[byte % len(alphabet)] for byte in digest[:length])


GITHUB = fake("ghp_", 36, "github")
NPM = fake("npm_", 36, "npm", "abcdefghijklmnopqrstuvwxyz0123456789")
AWS = fake("AKIA", 16, "aws", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
PASSWORD = fake("", 14, "password")
