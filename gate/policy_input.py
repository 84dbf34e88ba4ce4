"""Builds the policy input document from verified evidence and scan findings.

The document's shape is the contract for user Rego; it is documented as a JSON Schema in
``docs/input.schema.json`` and versioned by ``INPUT_VERSION``. Only verified facts go in (STYLE
habit 9): raw signatures, manifests and layer bytes never reach the policies. It is kept small
because the embedded engine's cost grows with the input's size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

INPUT_VERSION = 1


@dataclass(frozen=True)
class ImageIdentity:
    """Which image (and which platform of an index) the facts describe."""

    reference: str
    registry: str
    repository: str
    digest: str
    platform: str | None = None
    index_digest: str | None = None


@dataclass(frozen=True)
class Facts:
    """Everything the engine learnt about one platform image, before it becomes the input document.

    Each section is already in its input-document form (a JSON-able dict or list), produced by the
    module that verified or computed it; ``None`` means that kind of evidence was not gathered.
    """

    image: ImageIdentity
    config: dict[str, Any]
    user: dict[str, Any]
    signatures: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    sbom: dict[str, Any] | None = None
    findings: tuple[dict[str, Any], ...] = ()
    errors: tuple[dict[str, Any], ...] = ()
    vulnerability_scans: tuple[dict[str, Any], ...] = ()
    attestations: tuple[dict[str, Any], ...] = ()
    image_policies: tuple[dict[str, Any], ...] = ()
    params: dict[str, dict[str, Any]] | None = None


def config_facts(image_config: dict[str, Any]) -> dict[str, Any]:
    """The small part of an image config the policies read: user and creation time."""
    inner = image_config.get("config") or {}
    created = image_config.get("created")
    return {
        "user": str(inner.get("User") or ""),
        "created": created if isinstance(created, str) else None,
        "created_ns": rfc3339_to_ns(created) if isinstance(created, str) else None,
    }


def rfc3339_to_ns(text: str) -> int | None:
    """Nanoseconds since the epoch for an RFC 3339 time, or None when it does not parse.

    Done here rather than in Rego because regopy's ``time.parse_rfc3339_ns`` rejects a trailing ``Z``.
    """
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def _absent_signatures() -> dict[str, Any]:
    return {"found": 0, "verified": [], "rejected": []}


def _absent_provenance() -> dict[str, Any]:
    return {
        "present": False, "verified": False, "predicate_type": None, "builder_id": None,
        "build_type": None, "started_ns": None, "finished_ns": None, "stages": [], "materials": [],
    }


def _absent_sbom() -> dict[str, Any]:
    return {"present": False, "verified": False, "formats": [], "components": 0, "component_list": [], "denied": [], "without_purl": 0}


def input_document(facts: Facts, context: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The versioned policy input document for one platform image."""
    now = now.astimezone(dt.timezone.utc)
    return {
        "version": INPUT_VERSION,
        "now": now.isoformat(),
        "now_ns": int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1_000,
        "image": {
            "reference": facts.image.reference,
            "registry": facts.image.registry,
            "repository": facts.image.repository,
            "digest": facts.image.digest,
            "platform": facts.image.platform,
            "index_digest": facts.image.index_digest,
        },
        "context": context,
        "config": facts.config,
        "user": facts.user,
        "signatures": facts.signatures if facts.signatures is not None else _absent_signatures(),
        "provenance": facts.provenance if facts.provenance is not None else _absent_provenance(),
        "sbom": facts.sbom if facts.sbom is not None else _absent_sbom(),
        "findings": list(facts.findings),
        "errors": list(facts.errors),
        "vulnerability_scans": list(facts.vulnerability_scans),
        "attestations": list(facts.attestations),
        "image_policies": list(facts.image_policies),
        "params": facts.params if facts.params is not None else {},
    }


def evidence_summary(document: dict[str, Any]) -> dict[str, Any]:
    """The report's ``evidence`` object (docs/report.md), taken from the input document the policies saw."""
    return {
        "signatures": document["signatures"]["verified"],
        "provenance": document["provenance"],
        "sbom": document["sbom"],
        "config": document["config"] | {"effective_user": document["user"]},
        "findings": document["findings"],
        "vulnerability_scans": document["vulnerability_scans"],
        "image_policies": document["image_policies"],
    }
