"""What the engine keeps in the shared cache (``cache.url``), and how each value is checked on the way back.

Keys are exactly the in-process caches' keys; the namespace (:func:`namespace`) changes with
everything else that changes a verdict, so replicas with another gate, scanner, policy, rule or
trust configuration never read each other's values. A decoder accepts only a value of the right
shape for its own key (a verdict for another image, a layer scan for another layer are
refused), so a stray or swapped value is a miss, never a verdict. Per-digest facts stay local:
they hold verification results scoped per image policy, which no JSON value could vouch for.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gate import __version__
from gate.config import Config
from gate.report import ImageResult, Violation
from gate.scan import SCANNER_VERSION, LayerScan
from gate.shared_cache import Codec


VerdictKey = tuple[Any, ...]  # (digest, reference, platform, namespace, *context values the policies read)


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
