"""What the engine keeps in the shared cache (``cache.url``), and how each value is checked on the way back.

Keys are exactly the in-process caches' keys; the namespace (:func:`namespace`) changes with
everything else that changes a verdict, so replicas with another gate, scanner, policy, rule or
trust configuration never read each other's values. A decoder accepts only a value of the right
shape for its own key (a verdict for another image, facts for another digest, a layer scan for
another layer are refused), so a stray or swapped value is a miss, never a verdict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from gate import __version__
from gate.config import Config
from gate.facts import Facts, ImageIdentity
from gate.report import ImageResult, Violation
from gate.scan import SCANNER_VERSION, LayerScan
from gate.shared_cache import Codec


@dataclass(frozen=True)
class Gathered:
    """The facts of one platform image and what could not be read about it (cached by digest)."""

    facts: Facts
    problems: tuple[str, ...]


VerdictKey = tuple[Any, ...]  # (digest, reference, platform, namespace, *context values the policies read)
FactsKey = tuple[str, str, str | None, str | None]  # (registry, repository, digest, platform)


def namespace(config: Config, policy_digest: str) -> str:
    """A short digest of everything besides the cache key that a verdict depends on.

    Registry transport and credentials, paths and the cache's own settings are left out: they
    change how bytes are fetched (and digest-checked), not what is decided.
    """
    settings = config.model_dump(
        mode="json",
        exclude={"cache": True, "events_token": True, "registries": True, "scan": {"cache_dir"}, "policy": {"dirs"}, "trust": {"keys", "trusted_root"}},
    )
    files = [hashlib.sha256(pem).hexdigest() for pem in config.trust.key_pems()]
    if config.trust.trusted_root is not None:
        files.append(hashlib.sha256(config.trust.trusted_root.read_bytes()).hexdigest())
    material = json.dumps([__version__, SCANNER_VERSION, policy_digest, settings, files], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _key_text(key: tuple[Any, ...] | str) -> str:
    return json.dumps(key, separators=(",", ":"))


def _verdict_from_json(key: VerdictKey, body: Any) -> ImageResult:
    if body["digest"] != key[0] or body["reference"] != key[1]:
        raise ValueError("a verdict for another image")
    violations = tuple(_violation(item) for item in body["violations"])
    return ImageResult(reference=key[1], digest=key[0], violations=violations, evidence=_dict(body["evidence"]))


def _violation(item: Any) -> Violation:
    if item["action"] not in ("deny", "warn") or not isinstance(item["rule"], str) or not isinstance(item["message"], str):
        raise ValueError("not a violation")
    return Violation(item["rule"], item["action"], item["message"], _dict(item["details"]))


def _facts_to_json(gathered: tuple[Gathered, ...]) -> list[dict[str, Any]]:
    return [{"facts": asdict(item.facts), "problems": list(item.problems)} for item in gathered]


def _facts_from_json(key: FactsKey, body: Any) -> tuple[Gathered, ...]:
    registry, repository, digest, _ = key
    items = []
    for item in body:
        facts = item["facts"]
        image = ImageIdentity(**_dict(facts["image"]))
        if (image.registry, image.repository) != (registry, repository) or digest not in (image.digest, image.index_digest):
            raise ValueError("facts of another image")
        problems = tuple(item["problems"])
        if not all(isinstance(problem, str) for problem in problems):
            raise TypeError("problems must be strings")
        items.append(Gathered(_facts(image, facts), problems))
    if not items:
        raise ValueError("no platform image")
    return tuple(items)


def _facts(image: ImageIdentity, facts: dict[str, Any]) -> Facts:
    return Facts(
        image=image,
        config=_dict(facts["config"]),
        user=_dict(facts["user"]),
        signatures=_optional_dict(facts["signatures"]),
        provenance=_optional_dict(facts["provenance"]),
        sbom=_optional_dict(facts["sbom"]),
        findings=_dicts(facts["findings"]),
        errors=_dicts(facts["errors"]),
        vulnerability_scans=_dicts(facts["vulnerability_scans"]),
    )


def _optional_dict(value: Any) -> dict[str, Any] | None:
    return None if value is None else _dict(value)


def _dicts(value: Any) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list):
        raise TypeError("expected a JSON array")
    return tuple(_dict(entry) for entry in value)


def _layer_from_json(digest: str, body: Any) -> LayerScan:
    scan = LayerScan.from_json(_dict(body))
    if scan.digest != digest:
        raise ValueError("a scan of another layer")
    return scan


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected a JSON object")
    return value


VERDICTS: Codec[VerdictKey, ImageResult] = Codec("verdict", _key_text, ImageResult.to_json, _verdict_from_json)
LAYERS: Codec[str, LayerScan] = Codec("layer", _key_text, LayerScan.to_json, _layer_from_json)

FACTS: Codec[FactsKey, tuple[Gathered, ...]] = Codec("facts", _key_text, _facts_to_json, _facts_from_json)
