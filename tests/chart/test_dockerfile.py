"""gate's own Dockerfile passes gate's own Dockerfile-derived checks (issue 8 §5).

`builder.unpinned` is computed the way gate computes it for any image: the provenance BuildKit
attaches with `--provenance=mode=max` (the real statement from BuildKit's docs, in tests/vectors
`attestations/buildkit/provenance_statement-v1_slsa-v1_mode-max.json`) carrying this Dockerfile,
parsed by gate.evidence and judged by gate.evidence.pinning. USER and ENV/LABEL/history secrets
are judged by gate.scan on the image config this Dockerfile produces. No image is built here (no
container runtime).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import fnmatch
import json
import os
import shlex
from pathlib import Path
from typing import Any

from gate.evidence import Dockerfile, Provenance, pinning
from gate.registry import Reference
from gate.scan import resolve_user, scan_config
from tests.support.vectors import VECTORS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
VECTOR = VECTORS / "attestations" / "buildkit" / "provenance_statement-v1_slsa-v1_mode-max.json"
# Local tool and cache folders: excluded by the leading `*` and never re-included; not walked.
UNWALKED = {".git", ".venv", ".tools", ".make", ".pytest_cache", ".demo"}


def provenance_of_this_dockerfile() -> Provenance:
    """BuildKit's mode=max statement with this Dockerfile and its bases as the build would record them."""
    statement = json.loads(VECTOR.read_text(encoding="utf-8"))
    predicate = copy.deepcopy(statement["predicate"])
    bases = sorted({stage.base for stage in Dockerfile.parse(DOCKERFILE).stages})
    dependencies = []
    for base in bases:
        ref = Reference.parse(base)
        dependencies.append({
            "uri": f"pkg:docker/{ref.repository.removeprefix('library/')}@{ref.tag}?digest={ref.digest}&platform=linux%2Famd64",
            "digest": {"sha256": (ref.digest or "").removeprefix("sha256:")},
        })
    predicate["buildDefinition"]["resolvedDependencies"] = dependencies
    predicate["runDetails"]["metadata"]["buildkit_metadata"]["source"]["infos"] = [
        {"filename": "Dockerfile", "language": "Dockerfile", "data": base64.b64encode(DOCKERFILE.encode()).decode()}
    ]
    statement["predicate"] = predicate
    return Provenance.from_bytes(json.dumps(statement).encode())


def test_every_from_is_pinned_by_digest() -> None:
    """builder.unpinned: gate finds every stage's base written with @sha256:… and resolved to it."""
    facts = pinning(provenance_of_this_dockerfile())
    assert facts.source == "dockerfile"
    assert len(facts.stages) >= 2, "multi-stage: a builder and a final stage"
    for stage in facts.stages:
        assert stage.pinned, f"stage {stage.index} ({stage.line}) is not pinned by digest"
        assert stage.digest_used and stage.digest_used in stage.base


def test_pinning_check_is_not_vacuous() -> None:
    """The same check flags the builder stage once its digest is taken off."""
    provenance = provenance_of_this_dockerfile()
    first_digest = Dockerfile.parse(DOCKERFILE).stages[0].base.partition("@")[2]
    floating = dataclasses.replace(provenance, dockerfile=DOCKERFILE.replace("@" + first_digest, "", 1))
    stages = pinning(floating).stages
    assert not stages[0].pinned
    assert all(stage.pinned for stage in stages[1:])


def _instructions(text: str) -> list[list[tuple[str, str]]]:
    """(KEYWORD, arguments) per stage, continuation lines joined, comments dropped.

    gate.evidence.Dockerfile reads only FROM and ARG; the history lines below need every instruction.
    """
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), args.strip()))
    return stages


def image_config(text: str) -> dict[str, Any]:
    """The config BuildKit would write: Env, Labels and User of the final stage; history lines
    (`ENV …`, `RUN /bin/sh -c … # buildkit`) for every instruction of every stage, so nothing a
    builder stage sets escapes the scan either."""
    env, labels, user, history = [], {}, "", []
    stages = _instructions(text)
    for index, stage in enumerate(stages):
        for keyword, args in stage:
            suffix = " # buildkit" if keyword in {"RUN", "COPY", "ADD"} else ""
            command = f"/bin/sh -c {args}" if keyword == "RUN" else args
            history.append({"created_by": f"{keyword} {command}{suffix}"})
            if index < len(stages) - 1:
                continue
            if keyword == "ENV":
                env += shlex.split(args)
            elif keyword == "LABEL":
                labels.update(pair.split("=", 1) for pair in shlex.split(args))
            elif keyword == "USER":
                user = args
    return {"config": {"Env": env, "Labels": labels, "User": user}, "history": history}


def test_runs_as_a_numeric_non_root_user() -> None:
    """user.root, decided by gate.scan.resolve_user on the final stage's USER (no passwd needed)."""
    user = resolve_user(image_config(DOCKERFILE)["config"]["User"], passwd_text=None)
    assert user.resolved_by == "numeric", user.reason
    assert not user.is_root, user.reason
    assert resolve_user(image_config(DOCKERFILE.replace("USER 65532:65532", "USER root"))["config"]["User"], None).is_root


def test_no_secrets_in_env_labels_or_build_history() -> None:
    """secret.env / secret.build-arg, decided by gate.scan.scan_config as for any image."""
    assert scan_config(image_config(DOCKERFILE)) == []
    leaky = DOCKERFILE.replace("USER 65532:65532", "ARG NPM_TOKEN=npm_Q7vX2kLp9RtZ4mWb8NcY1dHf6JsA3gUe0TqP\nUSER 65532:65532")
    assert [f.rule for f in scan_config(image_config(leaky))] == ["secret.build-arg"]


def test_final_stage_copies_only_from_the_builder_or_named_paths() -> None:
    """content.source: no broad `COPY . ...` into the final image."""
    for keyword, args in _instructions(DOCKERFILE)[-1]:
        if keyword in {"COPY", "ADD"}:
            assert keyword == "COPY", "ADD can fetch URLs and unpack archives: use COPY"
            words = shlex.split(args)
            sources = [w for w in words[:-1] if not w.startswith("--")]
            assert all(source not in {".", "./", "*"} for source in sources), args


def _context_files(ignore_lines: list[str]) -> set[str]:
    """Which repository paths the .dockerignore lets into the build context (last match wins)."""
    patterns = [line for line in ignore_lines if line and not line.startswith("#")]
    admitted = set()
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if d not in UNWALKED]
        for name in files:
            relative = (Path(directory) / name).relative_to(ROOT).as_posix()
            if _included(relative, patterns):
                admitted.add(relative)
    return admitted


def _included(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for pattern in patterns:
        body = pattern.lstrip("!").rstrip("/")
        candidates = {body, body.removeprefix("**/")}
        if body.startswith("**/"):
            prefixes_to_check = [p.rsplit("/", 1)[-1] for p in prefixes] + prefixes
        else:
            prefixes_to_check = prefixes
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes_to_check for c in candidates):
            included = pattern.startswith("!")
    return included


def test_dockerignore_admits_only_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    context = _context_files(ignore)
    roots = {path.split("/", 1)[0] for path in context}
    assert roots == {"requirements.txt", "gate", "policies"}, roots
    assert not [p for p in context if "__pycache__" in p or p.endswith(".pyc")]
