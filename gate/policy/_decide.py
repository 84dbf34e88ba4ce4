"""Turn raw violations into reported ones: actions from configuration, then exemptions.

Precedence of the action: the rule's default in ``gate.rules.RULES`` (``deny`` for a custom rule
unless its Rego set ``action``) < ``rules.<id>.action`` < the strictest of
``namespaces.<ns>.rules.<id>.action`` and the matching ``images[].rules.<id>.action``
(``_scoped.py``). ``off`` drops the violation.

An exemption matches when it names the rule and, if it lists namespaces or image patterns, the
namespace and the image match one of them (image patterns: shell-style on the reference as written
and its repository, and as image globs on the normalised reference). A matching exemption that is still valid (``now`` on or
before its ``expires`` date, UTC) turns the violation into a ``warn`` whose details carry the
exemption, so its use stays visible in reports and admission warnings. An expired one no longer
applies: the violation keeps its action and gets an ``exemption`` note naming the expiry.
"""

from __future__ import annotations

import datetime as dt
from fnmatch import fnmatchcase
from typing import Any

from gate._globs import matches_image, reference_names
from gate.config import Config, Exemption, ImagePolicy
from gate.errors import ConfigError, ReferenceError  # noqa: A004 - gate's error for a string that is not an image reference
from gate.policy._raw import RawViolation
from gate.policy._scoped import Scopes, scoped_action, scoped_rules
from gate.registry import Reference
from gate.report import Violation
from gate.rules import RULES


def decide(
    raws: list[RawViolation],
    config: Config,
    *,
    namespace: str | None = None,
    image: str = "",
    now: dt.datetime,
    policies: tuple[ImagePolicy, ...] = (),
) -> tuple[Violation, ...]:
    """Apply actions and exemptions to raw violations (see the module docstring for the order).

    Args:
        raws: what :meth:`PolicyEvaluator.evaluate` returned.
        config: actions, namespace overrides and exemptions.
        namespace: the workload's namespace, ``None`` outside admission.
        image: the reference as the user wrote it, matched against exemption image patterns.
        now: the evaluation time; an aware datetime (naive means UTC).
        policies: the image policies that match the image in ``namespace`` (their rule overrides apply).

    Exemptions that name no rule are refused when the configuration loads (:func:`check_exemptions`).
    """
    today = (now if now.tzinfo is None else now.astimezone(dt.timezone.utc)).date()
    scopes = scoped_rules(config, namespace, policies)
    violations = []
    for raw in raws:
        action = _action(raw, config, scopes)
        if action == "off":
            continue
        violations.append(_exempt(raw, action, config.exemptions, namespace, image, today))
    return tuple(violations)


def check_exemptions(config: Config) -> None:
    """Refuse exemptions that name no rule, at start-up rather than at the first admission.

    Raises:
        ConfigError: names the exemption by index.
    """
    for index, exemption in enumerate(config.exemptions):
        if not exemption.rules:
            raise ConfigError(
                f"exemptions[{index}].rules: name at least one rule ID to exempt",
                remedy="an exemption without rules would waive every rule",
            )


def _action(raw: RawViolation, config: Config, scopes: Scopes) -> str:
    return scoped_action(raw.rule, _default_action(raw.rule, raw.default_action), config, scopes)


def rule_action(rule_id: str, config: Config, namespace: str | None, *, default: str | None = None) -> str:
    """The action (deny, warn, off) a violation of ``rule_id`` gets in ``namespace`` before any image
    policy's override (see the module docstring)."""
    return scoped_action(rule_id, _default_action(rule_id, default), config, scoped_rules(config, namespace, ()))


def _default_action(rule_id: str, custom_default: str | None) -> str:
    rule = RULES.get(rule_id)
    return rule.default_action if rule else (custom_default or "deny")


def _exempt(
    raw: RawViolation, action: str, exemptions: tuple[Exemption, ...], namespace: str | None, image: str, today: dt.date
) -> Violation:
    matching = [e for e in exemptions if _matches(e, raw.rule, namespace, image)]
    active = next((e for e in matching if e.expires is None or today <= e.expires), None)
    if active is not None:
        until = f" until {active.expires.isoformat()}" if active.expires else ""
        details = {**raw.details, "exemption": _note(active, expired=False)}
        return Violation(raw.rule, "warn", f"exempted{until} ({active.reason}): {raw.message}", details)
    if matching:
        expired = matching[0]
        details = {**raw.details, "exemption": _note(expired, expired=True)}
        message = f"{raw.message} (exemption expired on {expired.expires}: {expired.reason})"
        return Violation(raw.rule, action, message, details)  # type: ignore[arg-type]
    return Violation(raw.rule, action, raw.message, dict(raw.details))  # type: ignore[arg-type]


def _note(exemption: Exemption, *, expired: bool) -> dict[str, Any]:
    expires = exemption.expires.isoformat() if exemption.expires else None
    return {"reason": exemption.reason, "expires": expires, "expired": expired}


def _matches(exemption: Exemption, rule: str, namespace: str | None, image: str) -> bool:
    if rule not in exemption.rules:
        return False
    if exemption.namespaces and namespace not in exemption.namespaces:
        return False
    if exemption.images and not (
        any(fnmatchcase(candidate, pattern) for pattern in exemption.images for candidate in _names(image))
        or _normalised_match(exemption.images, image)
    ):
        return False
    return True


def _names(image: str) -> tuple[str, ...]:
    """The reference as written and its repository alone (tag and digest removed), so a pattern
    like ``registry.example/shop/*`` or ``registry.example/shop/api`` matches tagged references."""
    repository = image.split("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    return (image, repository)


def _normalised_match(patterns: tuple[str, ...], image: str) -> bool:
    """An exemption's image patterns as image globs on the normalised reference (``nginx`` is ``docker.io/library/nginx``)."""
    try:
        reference = Reference.parse(image)
    except ReferenceError:
        return False
    names = reference_names(reference.registry, reference.repository, reference.tag, reference.digest)
    return any(matches_image(pattern, names) for pattern in patterns)
