"""One image reference in, one verdict out: resolve, gather, verify, scan, decide.

This is the only place a ``GateError`` becomes an ``evaluation.error`` violation: everything below
raises, the engine reports. A multi-arch index is judged on every platform it lists (or the one
asked for); the worst decision wins and each violation names its platform.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from gate.config import Config
from gate.errors import EvidenceError, GateError, LimitExceeded
from gate.facts import Facts, ImageIdentity, config_facts, evidence_summary, input_document
from gate.policy import PolicyEvaluator, decide
from gate.registry import Manifest, Reference, RegistryClient
from gate.report import ImageResult, Violation
from gate.rules import EVALUATION_ERROR
from gate.scan import resolve_user

INDEX_MEDIA_TYPES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)


@dataclass(frozen=True)
class WorkloadContext:
    """What the admission request tells about how the image will run (empty for the CLI).

    ``pull_secrets`` holds docker ``config.json`` bytes from the pod's imagePullSecrets; it grants
    access but never changes a verdict, so it is not part of the cache key.
    """

    namespace: str | None = None
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    pull_secrets: bytes | None = None

    def policy_view(self) -> dict[str, Any]:
        """The ``input.context`` object the policies see."""
        return {"namespace": self.namespace, "run_as_non_root": self.run_as_non_root, "run_as_user": self.run_as_user}


@dataclass(frozen=True)
class _Target:
    """One platform manifest to judge."""

    reference: Reference
    manifest: Manifest
    platform: str | None
    index_digest: str | None


class Engine:
    """Judges images against the loaded policies; create once, use for many images.

    Use as ``async with Engine(config) as engine: await engine.check(ref)``.
    """

    def __init__(self, config: Config, *, policy: PolicyEvaluator | None = None) -> None:
        self.config = config
        self.policy = policy or PolicyEvaluator.from_config(config)
        self._client: RegistryClient | None = None

    @property
    def policy_digest(self) -> str:
        return self.policy.digest

    async def __aenter__(self) -> "Engine":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the pooled registry client."""
        if self._client is None:
            self._client = RegistryClient(self.config)
            await self._client.__aenter__()

    async def close(self) -> None:
        """Close the registry client and its connections."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.__aexit__(None, None, None)

    async def check(
        self,
        reference: str,
        context: WorkloadContext = WorkloadContext(),
        *,
        platform: str | None = None,
        deadline: float | None = None,
    ) -> ImageResult:
        """Judge one image reference; never raises for bad input, registries or evidence.

        Args:
            reference: the image reference as the user or pod spec wrote it.
            context: the workload context from an admission request.
            platform: judge only this ``os/arch[/variant]`` of an index.
            deadline: ``time.monotonic()`` value by which a verdict is due.
        """
        now = dt.datetime.now(dt.timezone.utc)
        try:
            return await self._within(deadline, self._check(reference, context, platform, now))
        except GateError as exc:
            return self._error_result(reference, exc)

    async def _within(self, deadline: float | None, work: Any) -> ImageResult:
        if deadline is None:
            return await work
        budget = deadline - time.monotonic()
        try:
            return await asyncio.wait_for(work, timeout=max(budget, 0.0))
        except TimeoutError as exc:
            raise LimitExceeded(
                f"timed out after {max(budget, 0):.1f}s gathering evidence",
                remedy="retry; if it persists, check the registry's health or raise limits.deadline_seconds",
            ) from exc

    async def _check(
        self, text: str, context: WorkloadContext, platform: str | None, now: dt.datetime
    ) -> ImageResult:
        reference = Reference.parse(text)
        client = await self._registry()
        top = await client.manifest(reference)
        targets = await self._targets(client, reference, top, platform)
        judged = await asyncio.gather(*(self._judge(client, target, text, context, now) for target in targets))
        violations = tuple(v for violations, _ in judged for v in violations)
        evidence = judged[0][1] if len(judged) == 1 else {t.platform or "": e for t, (_, e) in zip(targets, judged)}
        return ImageResult(reference=text, digest=top.digest, violations=violations, evidence=evidence)

    async def _registry(self) -> RegistryClient:
        if self._client is None:
            await self.start()
        assert self._client is not None
        return self._client

    async def _targets(
        self, client: RegistryClient, reference: Reference, top: Manifest, platform: str | None
    ) -> list[_Target]:
        if top.media_type not in INDEX_MEDIA_TYPES:
            return [_Target(reference.with_digest(top.digest), top, platform, None)]
        entries = [entry for entry in top.json.get("manifests", []) if _is_platform_image(entry)]
        if platform is not None:
            entries = [entry for entry in entries if _platform_name(entry) == platform or _platform_name(entry).startswith(platform + "/")]
        if not entries:
            wanted = f"platform {platform}" if platform else "any runnable platform"
            raise GateError(f"index {top.digest} of {reference} lists no image for {wanted}")
        manifests = await asyncio.gather(*(client.manifest(reference.with_digest(entry["digest"])) for entry in entries))
        return [
            _Target(reference.with_digest(entry["digest"]), manifest, _platform_name(entry), top.digest)
            for entry, manifest in zip(entries, manifests)
        ]

    async def _judge(
        self, client: RegistryClient, target: _Target, text: str, context: WorkloadContext, now: dt.datetime
    ) -> tuple[list[Violation], dict[str, Any]]:
        facts = await self._gather(client, target, text)
        document = input_document(facts, context.policy_view(), now)
        raws = await asyncio.to_thread(self.policy.evaluate, document)
        violations = decide(raws, self.config, namespace=context.namespace, image=text, now=now)
        return [_with_platform(v, target.platform) for v in violations], evidence_summary(document)

    async def _gather(self, client: RegistryClient, target: _Target, text: str) -> Facts:
        image_config = await _image_config(client, target, self.config.limits.blob_bytes)
        config = config_facts(image_config)
        identity = ImageIdentity(
            reference=text,
            registry=target.reference.registry,
            repository=target.reference.repository,
            digest=target.manifest.digest,
            platform=target.platform,
            index_digest=target.index_digest,
        )
        user = resolve_user(config["user"], None).to_fact()
        return Facts(image=identity, config=config, user=user)

    def _error_result(self, reference: str, error: GateError) -> ImageResult:
        action = "warn" if self.config.fail_open else "deny"
        violation = Violation(EVALUATION_ERROR, action, error.diagnostics(), dict(error.details))
        return ImageResult(reference=reference, digest=error.details.get("digest"), violations=(violation,))


async def _image_config(client: RegistryClient, target: _Target, max_bytes: int) -> dict[str, Any]:
    """The platform manifest's config blob, digest-checked and parsed.

    Raises:
        EvidenceError: the manifest has no config, or the config is not a JSON object.
    """
    descriptor = target.manifest.json.get("config")
    if not isinstance(descriptor, dict) or "digest" not in descriptor:
        raise EvidenceError(f"manifest {target.manifest.digest} of {target.reference} has no config descriptor")
    data = await client.blob(target.reference, descriptor["digest"], max_bytes=max_bytes)
    try:
        image_config = json.loads(data)
    except ValueError as exc:
        raise EvidenceError(f"config {descriptor['digest']} of {target.reference} is not valid JSON") from exc
    if not isinstance(image_config, dict):
        raise EvidenceError(f"config {descriptor['digest']} of {target.reference} is not a JSON object")
    return image_config


def _platform_name(entry: dict[str, Any]) -> str:
    platform = entry.get("platform") or {}
    parts = [platform.get("os", ""), platform.get("architecture", "")]
    if platform.get("variant"):
        parts.append(platform["variant"])
    return "/".join(parts)


def _is_platform_image(entry: dict[str, Any]) -> bool:
    """Index entries a node could pull: not BuildKit attestation manifests, not unknown/unknown."""
    annotations = entry.get("annotations") or {}
    if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
        return False
    platform = entry.get("platform") or {}
    return platform.get("os") != "unknown" and entry.get("mediaType") not in INDEX_MEDIA_TYPES


def _with_platform(violation: Violation, platform: str | None) -> Violation:
    if platform is None:
        return violation
    return Violation(
        violation.rule,
        violation.action,
        f"[{platform}] {violation.message}",
        violation.details | {"platform": platform},
    )
