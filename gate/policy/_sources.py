"""Finding and reading the Rego that decides: shipped policies plus configured directories.

The policy digest covers every module's name and text and the rule parameters (``data``), so a
verdict cached under one digest is never reused after a policy or parameter change.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.errors import PolicyError

SHIPPED_POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
"""The repository's ``policies/`` directory: the Rego gate ships for every rule in the catalogue."""

CONTEXT_KEYS: frozenset[str] = frozenset({"namespace", "run_as_non_root", "run_as_user", "from_workload"})
"""Every key of ``input.context`` in the input document (docs/input.schema.json)."""

_CONTEXT_KEY = re.compile(r"input\.context\.([A-Za-z_][A-Za-z0-9_]*)")
_CONTEXT_ANY = re.compile(r"\binput\s*\.\s*context\b|\binput\b(?!\s*\.)")
_MAX_MODULE_BYTES = 1024 * 1024
_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
_RULE_HEAD = re.compile(r"^(?:default\s+)?([A-Za-z_]\w*)\s*(\(|\[|contains\b|if\b|:=|=|\{)", re.MULTILINE)
_NOT_RULES = frozenset({"package", "import", "default", "some", "every", "not", "else"})
# A double-quoted string (ends at its quote or the end of its line; a backslash escapes the next
# character), a raw string (backquoted, may span lines) or a comment (``#`` to the end of the line).
_STRING_OR_COMMENT = re.compile(r'"(?:\\[\s\S]|[^"\\\n])*"?|`[^`]*`?|#[^\n]*')


@dataclass(frozen=True)
class Module:
    """One Rego file: a stable name (``<dir name>/<file name>``) and its text."""

    name: str
    source: str


def load_modules(directories: tuple[Path, ...]) -> tuple[Module, ...]:
    """Read the ``*.rego`` files directly inside each directory (not recursive: ``tests/`` and
    ``examples/`` beside them are not loaded).

    Raises:
        PolicyError: a directory is missing or empty, or a file cannot be read.
    """
    modules: list[Module] = []
    for directory in dict.fromkeys(d.resolve() for d in directories):
        files = sorted(directory.glob("*.rego")) if directory.is_dir() else []
        if not files:
            raise PolicyError(
                f"policy directory {directory} holds no *.rego file",
                remedy="point policy.dirs at a directory of Rego modules",
            )
        modules.extend(_read(directory, path) for path in files)
    return tuple(modules)


def _read(directory: Path, path: Path) -> Module:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror or exc}") from exc
    if len(raw) > _MAX_MODULE_BYTES:
        raise PolicyError(f"policy {path} is larger than {_MAX_MODULE_BYTES} bytes")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy {path} is not UTF-8 text") from exc
    return Module(name=f"{directory.name}/{path.name}", source=source)


def policy_digest(modules: tuple[Module, ...], data: dict[str, Any]) -> str:
    """``sha256:<hex>`` over the modules (name and text, in load order) and the canonical data."""
    digest = hashlib.sha256()
    for module in modules:
        for part in (module.name, module.source):
            encoded = part.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "big") + encoded)
    digest.update(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return f"sha256:{digest.hexdigest()}"


def context_keys_read(modules: tuple[Module, ...]) -> frozenset[str]:
    """The ``input.context`` keys the modules read, found by scanning their text.

    Only the literal form ``input.context.<key>`` is understood. Any other way of reaching the
    context (``input.context`` bound to a variable, ``input.context[k]``, ``input[...]``, bare
    ``input``, even the word in a string) makes this answer every key, so a verdict cache keyed on the result never mixes two contexts.
    """
    keys: set[str] = set()
    for module in modules:
        text = strip_comments(module.source)
        literal = set(_CONTEXT_KEY.findall(text))
        other_uses = len(_CONTEXT_ANY.findall(text)) - len(_CONTEXT_KEY.findall(text))
        if other_uses > 0:
            return CONTEXT_KEYS
        keys |= literal
    return frozenset(keys)


LARGE_FACTS: dict[str, re.Pattern[str]] = {
    "sbom.component_list": re.compile(r"\bcomponent_list\b"),
    "attestations": re.compile(r"\binput\s*\.\s*attestations\b"),
}
"""Input facts that cost the embedded engine dearly when large (its time grows faster than the
input: 200 SBOM components made one evaluation 20-40 times slower, measured), so the document
carries them only for policies that read them."""

_WHOLE_INPUT = re.compile(r"\binput\b(?!\s*\.)")


def large_facts_read(modules: tuple[Module, ...]) -> frozenset[str]:
    """Which of :data:`LARGE_FACTS` the modules read: the word ``component_list``, or
    ``input.attestations``, or any use of ``input`` as a whole, counts as reading it."""
    read: set[str] = set()
    for module in modules:
        text = strip_comments(module.source)
        if _WHOLE_INPUT.search(text):
            return frozenset(LARGE_FACTS)
        read |= {name for name, pattern in LARGE_FACTS.items() if pattern.search(text)}
    return frozenset(read)


def package_of(source: str) -> str | None:
    """The module's package path (``gate.rules.site``), or None when it declares none."""
    match = _PACKAGE.search(strip_comments(source))
    return match.group(1) if match else None


def rule_heads(source: str) -> list[tuple[str, int]]:
    """``(name, line)`` of each rule defined at the start of a line, first definition only;
    functions (``f(x) := …``) are left out since they cannot be queried without arguments."""
    text = strip_comments(source)
    heads: dict[str, int] = {}
    for match in _RULE_HEAD.finditer(text):
        name = match.group(1)
        if name not in _NOT_RULES and match.group(2) != "(" and name not in heads:
            heads[name] = text.count("\n", 0, match.start()) + 1
    return list(heads.items())


def strip_comments(source: str) -> str:
    """The source without ``#`` comments. A ``#`` inside a double-quoted string or a raw
    (backquoted, possibly multi-line) string is text; an escaped quote does not end a string.
    One regex pass: every policy is read this way at each start-up."""
    return _STRING_OR_COMMENT.sub(lambda match: "" if match.group().startswith("#") else match.group(), source)
