"""Rule settings for one image in one namespace: the top-level ``rules``, overridden by the
namespace's and the matching image policies' ``rules`` (docs/configuration.md).

Actions: when the namespace or several matching image policies set a rule's action, the strictest
wins (deny > warn > off); otherwise the top-level action, otherwise the rule's default. Parameters
set in those scopes replace the top-level ones; where several scopes set the same shipped
parameter, the strictest value wins (the smallest ``max_age_days``, the digests every scope
allows, every scope's deny list). Two scopes giving a site rule's parameter different values
cannot be ordered, so that image cannot be evaluated (``evaluation.error``) until one is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gate.config import Config, ImagePolicy, RuleSettings
from gate.errors import ConfigError

# Each scope that overrides the top-level rules here: its name and its ``rules`` mapping.
Scopes = list[tuple[str, dict[str, RuleSettings]]]

_STRICTNESS = {"off": 0, "warn": 1, "deny": 2}


def scoped_rules(config: Config, namespace: str | None, entries: tuple[ImagePolicy, ...]) -> list[tuple[str, dict[str, RuleSettings]]]:
    """The ``rules`` mappings that override the top level here, each with the scope's name."""
    scopes = []
    overrides = config.namespaces.get(namespace) if namespace is not None else None
    if overrides is not None and overrides.rules:
        scopes.append((f"namespaces.{namespace}", overrides.rules))
    scopes += [(f"images.{entry.name}", entry.rules) for entry in entries if entry.rules]
    return scopes


def scoped_action(rule: str, base: str, config: Config, scopes: list[tuple[str, dict[str, RuleSettings]]]) -> str:
    """The action of ``rule``: the strictest any scope sets, else the top-level one, else ``base``."""
    actions = [action for _, settings in scopes if rule in settings and (action := settings[rule].action) is not None]
    if actions:
        return max(actions, key=lambda action: _STRICTNESS[action])
    configured = config.rules.get(rule)
    return configured.action if configured is not None and configured.action is not None else base


def effective_params(config: Config, scopes: list[tuple[str, dict[str, RuleSettings]]]) -> dict[str, dict[str, Any]]:
    """Every rule's parameters here: the top level, with each parameter a scope sets merged in.

    Raises:
        ConfigError: scopes set a parameter whose values cannot be combined (a site rule's, or
            builder allow lists with no digest in common).
    """
    params = {rule: dict(values) for rule, values in config.rule_params().items()}
    for rule in dict.fromkeys(rule for _, settings in scopes for rule in settings):
        for key in dict.fromkeys(key for _, settings in scopes if rule in settings for key in settings[rule].params()):
            values = [(name, settings[rule].params()[key]) for name, settings in scopes if rule in settings and key in settings[rule].params()]
            params.setdefault(rule, {})[key] = _strictest(rule, key, values)
    return params


def _strictest(rule: str, key: str, values: list[tuple[str, Any]]) -> Any:
    merge = _MERGES.get((rule, key))
    if merge is not None:
        return merge(rule, key, values)
    distinct = {repr(value) for _, value in values}
    if len(distinct) > 1:
        names = ", ".join(name for name, _ in values)
        raise ConfigError(
            f"{names} set rules.{rule}.{key} to different values for this image, and which is stricter is unknown",
            remedy="set the parameter in one of them only",
        )
    return values[0][1]


def _smallest(_rule: str, _key: str, values: list[tuple[str, Any]]) -> Any:
    return min(value for _, value in values)


def _common(rule: str, key: str, values: list[tuple[str, Any]]) -> Any:
    common = set(values[0][1]).intersection(*(set(value) for _, value in values[1:]))
    if not common:
        names = ", ".join(name for name, _ in values)
        raise ConfigError(f"{names} allow no {rule} digest in common ({key}), so no base could be approved", remedy="align the allow lists")
    return sorted(common)


def _all_entries(_rule: str, _key: str, values: list[tuple[str, Any]]) -> Any:
    return [item for _, value in values for item in value]


_MERGES: dict[tuple[str, str], Callable[[str, str, list[tuple[str, Any]]], Any]] = {
    ("image.stale", "max_age_days"): _smallest,
    ("builder.untrusted", "allow"): _common,
    ("sbom.denied-component", "deny"): _all_entries,
}
