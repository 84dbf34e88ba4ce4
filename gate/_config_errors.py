"""Configuration errors in the words of the YAML file: key path, line, and a suggestion for a near miss.

pydantic reports ``Input should be a valid integer`` at ``('limits', 'retries')``; a person editing
``gate.yaml`` needs ``limits.retries (line 12): expected an integer, got the string "3"``. The line
comes from the YAML node tree (:func:`line_map`); the suggestion from :func:`difflib.get_close_matches`
over the keys allowed at that place.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

Path = tuple[str | int, ...]

_YAML_TYPES = {
    str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list", dict: "a mapping", type(None): "null",
}
_EXPECTED = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer", "float_type": "a number",
    "float_parsing": "a number", "bool_type": "true or false", "bool_parsing": "true or false", "list_type": "a list",
    "tuple_type": "a list", "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
    "date_type": "a date (YYYY-MM-DD)", "date_from_datetime_parsing": "a date (YYYY-MM-DD)", "date_parsing": "a date (YYYY-MM-DD)",
    "frozen_set_type": "a list", "set_type": "a list", "int_from_float": "an integer",
}


def line_map(text: str) -> dict[Path, int]:
    """1-based line of every key and list item in a YAML document, by key path (empty on a parse error)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[Path, int] = {}
    stack: list[tuple[Path, Any]] = [((), root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, key.value)
                lines[child] = key.start_mark.line + 1
                stack.append((child, value))
        elif isinstance(node, yaml.SequenceNode):
            for index, value in enumerate(node.value):
                lines[(*path, index)] = value.start_mark.line + 1
                stack.append(((*path, index), value))
    return lines


def dotted(path: Sequence[str | int]) -> str:
    """``images[0].rules.image.stale.max_age_days``: list indexes in brackets, keys joined by dots."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return text or "(top level)"


def where(path: Sequence[str | int], lines: dict[Path, int]) -> str:
    """The key path plus the line of its nearest known ancestor."""
    for end in range(len(path), 0, -1):
        line = lines.get(tuple(path[:end]))
        if line is not None:
            return f"{dotted(path)} (line {line})"
    return dotted(path)


def close_match(word: str, allowed: Iterable[str]) -> str | None:
    """The allowed word ``word`` is a near miss of, if any."""
    close = difflib.get_close_matches(word, sorted(allowed), n=1, cutoff=0.6)
    return close[0] if close else None


def suggestion(word: str, allowed: Iterable[str]) -> str:
    """``; did you mean `trust`?`` for a near miss, else the allowed keys (empty when none are known)."""
    allowed = sorted(allowed)
    close = close_match(word, allowed)
    if close:
        return f"; did you mean `{close}`?"
    return f"; allowed: {', '.join(allowed)}" if allowed else ""


def yaml_type(value: Any) -> str:
    """How YAML would name the type of a loaded value."""
    for kind, name in _YAML_TYPES.items():
        if type(value) is kind:
            return name
    return type(value).__name__


def wording(error: Mapping[str, Any]) -> str:
    """One pydantic error in YAML terms (without its path)."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in _EXPECTED:
        shown = f" {value!r}" if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
        return f"expected {_EXPECTED[kind]}, got {yaml_type(value)}{shown}"
    if kind == "literal_error":
        return f"{value!r} is not one of {error.get('ctx', {}).get('expected', '')}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def problem(error: Mapping[str, Any], lines: dict[Path, int], model: type[BaseModel], prefix: Path = ()) -> str:
    """One pydantic error (from validating ``model`` at ``prefix``) as ``key.path (line N): what is wrong[; did you mean …?]``."""
    loc = tuple(part for part in error["loc"] if not _is_pydantic_tag(part))
    path = (*prefix, *loc)
    text = f"{where(path, lines)}: {wording(error)}"
    if error["type"] == "extra_forbidden" and loc:
        text += suggestion(str(loc[-1]), _keys_at(loc[:-1], model))
    elif error["type"] == "literal_error" and isinstance(error.get("input"), str):
        text += suggestion(error["input"], re.findall(r"'([^']+)'", str(error.get("ctx", {}).get("expected", ""))))
    return text


def _is_pydantic_tag(part: str | int) -> bool:
    """Union and validator tags pydantic puts in locations (``literal['deny','warn','off']``, ``function-before[…]``)."""
    return isinstance(part, str) and ("[" in part and part.endswith("]") or part in ("[key]",))


def _keys_at(path: Path, model: type[BaseModel]) -> set[str]:
    """The keys allowed at ``path`` inside ``model`` (for a near-miss suggestion); empty where any key goes."""
    kind: Any = model
    for part in path:
        kind = _child_type(kind, part)
    kind = _unwrapped(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel) and kind.model_config.get("extra") == "forbid":
        return set(kind.model_fields)
    return set()


def _child_type(kind: Any, part: str | int) -> Any:
    kind = _unwrapped(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        field = kind.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field is not None else None
    origin, args = get_origin(kind), get_args(kind)
    if origin in (tuple, list, frozenset, set) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrapped(kind: Any) -> Any:
    """``X | None`` and ``Annotated[X, …]`` as ``X``."""
    while get_origin(kind) in (Union, UnionType, Annotated):
        kind = next((arg for arg in get_args(kind) if arg is not type(None)), None)
    return kind
