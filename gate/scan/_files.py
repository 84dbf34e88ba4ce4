"""Credential files recognised by path and confirmed by content, plus content rules for any text file.

A credential file's name alone is not a leak (``.npmrc`` with only a registry URL is harmless), so
each detector checks the content for a real value; placeholders such as ``${NPM_TOKEN}`` pass.
When the content cannot be checked (binary, larger than ``limits.file_bytes``) a credential-named
file is reported by name: unknown means deny. ``.p12``/``.pfx`` bundles are reported by name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from gate.scan._assign import judge
from gate.scan._finding import SECRET_FILE, Finding, redact
from gate.scan._matcher import ContentMatcher, default_matcher
from gate.scan._rules import ALLOWED_PATHS, BINARY_RULES, PREFIXED_RULES, is_placeholder

Hit = tuple[str, str]  # (detector, secret text used only for the redacted preview)

_NPMRC = re.compile(rb"(?m)^\s*(?:[^\s=#;]*:)?_(?:authToken|auth|password)\s*=\s*(\S+)")
_PYPIRC = re.compile(rb"(?m)^\s*password\s*[=:]\s*(\S+)")
_GIT_CREDENTIALS = re.compile(rb"[a-z][a-z0-9+.-]*://[^:/\s@]*:([^@\s]+)@")
_NETRC = re.compile(rb"\bpassword\s+(\S+)")
_AWS = re.compile(rb"(?im)^\s*aws_(?:secret_access_key|session_token)\s*=\s*(\S+)")
_KUBECONFIG = re.compile(rb"(?m)^\s*(?:token|client-key-data|password|auth-provider-token):\s*[\"']?([^\s\"']+)")
# libpq's password file: ``host:port:database:user:password``, ``\:`` escaping a colon in a field.
_PGPASS = re.compile(rb"(?m)^(?!#)(?:(?:[^:\\\n]|\\.)*:){4}([^\r\n]+)")
_VAULT_TOKEN = re.compile(rb"\A\s*(\S+)")
_PRIVATE_KEY_HEADER = re.compile(rb"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY")
_PRIVATE_KEY_BLOCK = re.compile(rb"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]{0,65536}?KEY(?: BLOCK)?-----")
_SSH_KEY_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity"})
_DOTENV = re.compile(r"^\.env(?:\.(?!example$|sample$|template$|dist$|defaults?$|schema$)[\w.-]+)?$")
_DOCKER_CONFIG = re.compile(r"(?:^|/)(?:\.docker/config\.json|\.dockercfg|containers/auth\.json)$")
_KUBECONFIG_PATH = re.compile(r"(?:^|/)(?:\.kube/config|[\w.-]*kubeconfig[\w.-]*)$")
# kubeadm writes admin.conf, kubelet.conf, controller-manager.conf, scheduler.conf here.
_KUBERNETES_CONF = re.compile(r"(?:^|/)etc/kubernetes/[^/]+\.conf$")


def _first_real(pattern: re.Pattern[bytes], content: bytes) -> str | None:
    for match in pattern.finditer(content):
        value = match.group(1).strip(b"\"'")
        if value and not is_placeholder(value) and not value.startswith(b"$"):
            return value.decode("utf-8", "replace")
    return None


def _docker_config(content: bytes) -> str | None:
    """An ``auths`` entry (or legacy top-level entry) with inline ``auth``, password or token."""
    try:
        document = json.loads(content)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    auths = document.get("auths", document)
    for entry in auths.values() if isinstance(auths, dict) else ():
        if isinstance(entry, dict):
            for key in ("auth", "password", "identitytoken", "registrytoken"):
                value = entry.get(key)
                if isinstance(value, str) and value and not is_placeholder(value.encode()):
                    return value
    return None


def _dotenv(matcher: ContentMatcher, content: bytes) -> list[Hit]:
    hits = []
    for line in content.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[7:].lstrip()
        name, equals, value = line.partition("=")
        if equals and not name.startswith("#"):
            verdict = judge(matcher, name.strip(), value.split(" #", 1)[0])
            if verdict is not None:
                hits.append(("dotenv" if verdict.detector == "secret-assignment" else verdict.detector, verdict.secret))
    return hits


def _by_pattern(detector: str, pattern: re.Pattern[bytes]) -> Callable[[ContentMatcher, bytes], list[Hit]]:
    def check(_matcher: ContentMatcher, content: bytes) -> list[Hit]:
        secret = _first_real(pattern, content)
        return [(detector, secret)] if secret else []

    return check


def _docker(_matcher: ContentMatcher, content: bytes) -> list[Hit]:
    secret = _docker_config(content)
    return [("docker-config", secret)] if secret else []


def _ssh(_matcher: ContentMatcher, content: bytes) -> list[Hit]:
    """The key block itself is the secret, so the generic private-key content rule does not repeat it."""
    block = _PRIVATE_KEY_BLOCK.search(content) or _PRIVATE_KEY_HEADER.search(content)
    return [("ssh-private-key", block.group(0).decode("ascii", "replace"))] if block else []


_CHECKERS: dict[str, tuple[str, Callable[[ContentMatcher, bytes], list[Hit]]]] = {
    ".npmrc": ("npmrc", _by_pattern("npmrc", _NPMRC)),
    ".pypirc": ("pypirc", _by_pattern("pypirc", _PYPIRC)),
    ".git-credentials": ("git-credentials", _by_pattern("git-credentials", _GIT_CREDENTIALS)),
    ".netrc": ("netrc", _by_pattern("netrc", _NETRC)),
    "_netrc": ("netrc", _by_pattern("netrc", _NETRC)),
    ".pgpass": ("pgpass", _by_pattern("pgpass", _PGPASS)),
    ".vault-token": ("vault-token", _by_pattern("vault-token", _VAULT_TOKEN)),
    **{name: ("ssh-private-key", _ssh) for name in _SSH_KEY_NAMES},
}
_AWS_CHECK = ("aws-credentials", _by_pattern("aws-credentials", _AWS))
_DOCKER_CHECK = ("docker-config", _docker)
_KUBE_CHECK = ("kubeconfig", _by_pattern("kubeconfig", _KUBECONFIG))
_DOTENV_CHECK = ("dotenv", _dotenv)
_PKCS12_CHECK = ("pkcs12-file", lambda _matcher, _content: [("pkcs12-file", "")])
# Every name the checks below can accept contains one of these; most paths are rejected here.
_MAYBE = re.compile(r"credentials|config|\.dockercfg|auth\.json|kube|\.env")


def credential_checker(path: str) -> tuple[str, Callable[[ContentMatcher, bytes], list[Hit]]] | None:
    """The credential-file detector for ``path`` (detector name, content check), if its name is one."""
    base = path[path.rfind("/") + 1 :]
    known = _CHECKERS.get(base)
    if known is not None:
        return known
    if base[-4:].lower() in (".p12", ".pfx"):
        return _PKCS12_CHECK
    if "kubernetes/" in path and _KUBERNETES_CONF.search(path):
        return _KUBE_CHECK
    if not _MAYBE.search(base):
        return None
    if path.endswith(".aws/credentials"):
        return _AWS_CHECK
    if _DOCKER_CONFIG.search(path):
        return _DOCKER_CHECK
    if _KUBECONFIG_PATH.search(path):
        return _KUBE_CHECK
    if _DOTENV.match(base):
        return _DOTENV_CHECK
    return None


def is_text(content: bytes) -> bool:
    """Text files are scanned for content; a NUL byte early on means a binary (names still checked)."""
    return content.find(b"\0", 0, 8192) < 0


def detect(
    matcher: ContentMatcher,
    path: str,
    content: bytes | None,
    text: bool | None = None,
    prefiltered: dict[int, list[int]] | None = None,
) -> list[Hit]:
    """Every secret in one file: credential-file detectors first, then content rules.

    Text files get every content rule, except that third-party trees (``ALLOWED_PATHS``) get only
    the prefixed token rules; binary files get the prefixed token rules and PEM private keys.
    ``content`` is None when the file was not read (too large, or not a regular file); ``text``
    and the ``prefiltered`` hits may be passed when the caller already computed them.
    """
    checker = credential_checker(path)
    if text is None:
        text = content is not None and is_text(content)
    hits: list[Hit] = []
    if checker is not None:
        name, check = checker
        hits = check(matcher, content) if text and content is not None else [(name, "")]
    only = None if text and not ALLOWED_PATHS.search(path) else PREFIXED_RULES if text else BINARY_RULES
    matches = matcher.scan(content, path, prefiltered, only) if content is not None else []
    if matches:
        reported = {secret for _, secret in hits}
        for match in matches:
            secret = match.secret_text()
            if secret not in reported and not any(secret in known or known in secret for known in reported if known):
                reported.add(secret)
                hits.append((match.detector, secret))
    return hits


def scan_file(path: str, content: bytes | None, *, matcher: ContentMatcher | None = None) -> list[Finding]:
    """secret.file findings for one file given by path and content (outside any layer context).

    Used for files that are not in a layer (and by tests); layer scans use the same detectors.
    """
    found = detect(matcher or default_matcher(), path, content)
    return [Finding(SECRET_FILE, detector, path=path, preview=redact(secret) if secret else None)
            for detector, secret in found]
