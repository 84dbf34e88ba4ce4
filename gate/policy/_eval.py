"""Evaluate one input document by hand (``gate policy eval``), checked against the input schema.

The schema (docs/input.schema.json) is the contract user Rego is written against; a document
that breaks it would make a policy see something gate never produces, so it is refused with
every problem named by its JSON path.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.config import Config
from gate.errors import PolicyError
from gate.policy._decide import decide
from gate.policy._evaluator import PolicyEvaluator
from gate.report import Violation

if TYPE_CHECKING:  # jsonschema is imported by the first check of a document: judging images never loads it
    import jsonschema

INPUT_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "input.schema.json"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    try:
        schema = json.loads(INPUT_SCHEMA.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyError(f"cannot read the input schema {INPUT_SCHEMA}: {exc}") from exc
    return jsonschema.Draft202012Validator(schema)


def input_problems(document: Any) -> list[str]:
    """Where ``document`` breaks docs/input.schema.json, as ``path: message`` lines (empty: valid)."""
    errors = sorted(_validator().iter_errors(document), key=lambda error: list(error.absolute_path))
    return [f"{error.json_path}: {error.message[:300]}" for error in errors]


def evaluate_document(config: Config, document: Any, *, namespace: str | None = None, now: dt.datetime | None = None) -> tuple[Violation, ...]:
    """The policies' violations for ``document``, with the actions configuration and exemptions give.

    Raises:
        PolicyError: the document breaks the input schema (each problem named) or evaluation fails.
    """
    problems = input_problems(document)
    if problems:
        raise PolicyError("the input document does not match docs/input.schema.json:\n  " + "\n  ".join(problems[:20]))
    evaluator = PolicyEvaluator.from_config(config)
    try:
        raws = evaluator.evaluate(document)
    finally:
        evaluator.close()
    image = document.get("image", {}).get("reference") or ""
    return decide(raws, config, namespace=namespace, image=image, now=now or dt.datetime.now(dt.timezone.utc))
