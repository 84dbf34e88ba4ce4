"""The catalogue of rule IDs: stable API shared by reports, webhook messages, metrics and config.

Each rule has a default action; configuration may change it per rule and per namespace. The Rego
in ``policies/`` produces violations for these IDs; ``tests`` fail when a rule here lacks Rego, a
policy test or an entry in ``docs/rules.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["deny", "warn"]


@dataclass(frozen=True)
class Rule:
    """One rule ID with its default action and a one-line summary for reports and SARIF."""

    id: str
    default_action: Action
    summary: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("secret.build-arg", "deny", "Secret passed as a build argument, visible in image history or provenance"),
        Rule("secret.env", "deny", "Secret in the image's ENV or labels"),
        Rule("secret.file", "deny", "Credential file or secret content in the final filesystem"),
        Rule("secret.deleted-file", "deny", "Secret deleted in a later layer but still present in an earlier one"),
        Rule("builder.unpinned", "deny", "Base or builder image referenced by a floating tag instead of a digest"),
        Rule("builder.untrusted", "deny", "Base or builder image digest not on the approved list"),
        Rule("content.source", "warn", "Source tree, VCS metadata or package caches in the final image"),
        Rule("content.toolchain", "warn", "Build toolchain left in the final image"),
        Rule("user.root", "deny", "Image runs as root"),
        Rule("image.stale", "warn", "Image built longer ago than the configured maximum age"),
        Rule("signature.missing", "deny", "No signature verifies against the configured trust"),
        Rule("provenance.missing", "deny", "No build provenance attached to the image"),
        Rule("provenance.unverified", "deny", "Build provenance not covered by a trusted signature"),
        Rule("sbom.missing", "warn", "No SBOM attached to the image"),
        Rule("sbom.denied-component", "deny", "SBOM lists a component on the deny list"),
        Rule("evaluation.error", "deny", "The image could not be evaluated"),
        Rule("image.mutable-reference", "warn", "The workload names the image by tag only, so what runs may differ from what was judged"),
    )
}

EVALUATION_ERROR = "evaluation.error"
