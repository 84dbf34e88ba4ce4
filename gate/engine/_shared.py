"""What the engine keeps in the shared cache (``cache.url``), and how each value is checked on the way back.

Keys are exactly the in-process caches' keys; the namespace (:func:`namespace`) changes with
everything else that changes a verdict, so replicas with another gate, scanner, policy, rule or
trust configuration never read each other's values. A decoder accepts only a value of the right
shape for its own key (a verdict for another image, a layer scan for another layer are
refused), so a stray or swapped value is a miss, never a verdict.

Per-digest facts travel as portable records (``gate.engine._portable``): the attached evidence as
the registry served it, every byte checked against its digest on the way back, and the scan facts.
No verification result is stored: the replica that reads a record verifies its signatures and
attestations again with its own trust (milliseconds, no registry request), so Redis never vouches
for a signature. The scan facts are taken as stored, as shared layer scans are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from gate import __version__
from gate.config import Config
from gate.engine._portable import PlatformFacts
from gate.report import ImageResult, Violation
from gate.scan import SCANNER_VERSION, LayerScan
from gate.shared_cache import Codec
from gate.verify import TrustPolicy


VerdictKey = tuple[Any, ...]  # (digest, reference, platform, namespace, *context values the policies read)
FactsKey = tuple[Any, ...]  # (registry, repository, digest, platform)


def namespace(config: Config, policy_digest: str) -> str:
    """A short digest of everything besides the cache key that a verdict depends on.

    Registry transport and credentials, paths and the cache's own settings are left out: they
    change how bytes are fetched (and digest-checked), not what is decided.
    """
    settings = config.model_dump(
        mode="json",
        exclude={"cache": True, "events_token": True, "registries": True, "scan": {"cache_dir"}, "policy": {"dirs"}, "trust": {"keys", "trusted_root"}},
    )
    keys = [*config.trust.keys, *(authority.key for entry in config.images for authority in entry.authorities if authority.key is not None)]
    files = [hashlib.sha256(path.read_bytes()).hexdigest() for path in keys]
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


def facts_codec(trust: TrustPolicy) -> Codec[FactsKey, tuple[PlatformFacts, ...]]:
    """Per-digest facts, whose evidence is verified again with ``trust`` each time one is read."""

    def encode(value: tuple[PlatformFacts, ...]) -> Any:
        return {"platforms": [item.to_json() for item in value]}

    def decode(key: FactsKey, body: Any) -> tuple[PlatformFacts, ...]:
        platforms = _dict(body)["platforms"]
        if not isinstance(platforms, list) or not platforms:
            raise ValueError("facts about no platform image")
        now = dt.datetime.now(dt.timezone.utc)
        return tuple(PlatformFacts.from_json(item, (key[0], key[1], key[2]), trust, now) for item in platforms)

    return Codec("facts", _key_text, encode, decode)
