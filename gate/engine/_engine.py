"""One image reference in, one verdict out: resolve, gather, verify, scan, decide.

This is the only place a ``GateError`` becomes an ``evaluation.error`` violation: everything below
raises, the engine reports. A multi-arch index is judged on every manifest a runtime could select from
it (``_selection``), or on those a node of the asked platform could; the worst decision wins and
each violation names its platform.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from gate.cache import LoadingCache, TTLCache
from gate.config import Config
from gate.engine._evidence import Subject, evidence_facts
from gate.engine._image import ImageScanner, LayerProgress
from gate.engine._selection import runnable_manifests
from gate.errors import GateError, LimitExceeded
from gate.evidence import AttachedEvidence, DenyList, discover
from gate.facts import Facts, ImageIdentity, evidence_summary, input_document
from gate.policy import PolicyEvaluator, decide
from gate.registry import CredentialStore, Manifest, Reference, RegistryClient
from gate.report import ImageResult, Violation
from gate.rules import EVALUATION_ERROR
from gate.verify import TrustPolicy

T = TypeVar("T")
log = logging.getLogger(__name__)
TAG_TTL_SECONDS = 30.0  # a tag can move: its digest is trusted this long at most
NEGATIVE_TTL_SECONDS = 5.0  # a failing registry is asked again this soon, not on every request


@dataclass(frozen=True)
class WorkloadContext:
    """What the admission request tells about how the image will run (empty for the CLI).

    ``pull_secrets`` holds a docker ``config.json`` document merged from the pod's imagePullSecrets;
    it grants access but never changes a verdict, so it is not part of any cache key.
    ``from_workload`` says the reference was read from a pod spec (webhook, ``gate check
    manifest``), where a tag is what the node will pull (``image.mutable-reference``).
    """

    namespace: str | None = None
    run_as_non_root: bool | None = None
    run_as_user: int | None = None
    from_workload: bool = False
    pull_secrets: bytes | None = field(default=None, repr=False)  # credentials: never in logs

    def policy_view(self) -> dict[str, Any]:
        """The ``input.context`` object the policies see."""
        return {
            "namespace": self.namespace,
            "run_as_non_root": self.run_as_non_root,
            "run_as_user": self.run_as_user,
            "from_workload": self.from_workload,
        }


@dataclass(frozen=True)
class _Gathered:
    """The facts of one platform image and what could not be read about it (cached by digest)."""

    facts: Facts
    problems: tuple[str, ...]
    platform: str  # os/arch[/variant]: the index entry's, else the image config's
    contains: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class _Target:
    """One platform manifest to judge."""

    reference: Reference
    manifest: Manifest
    platform: str | None
    subject: Subject


class Engine:
    """Judges images against the loaded policies; create once, use for many images.

    Use as ``async with Engine(config) as engine: await engine.check(ref)``. Trust, deny lists and
    policies are loaded in the constructor, so bad configuration fails at start-up.

    Raises:
        ConfigError, PolicyError: from the constructor, when trust, parameters or policies do not load.
    """

    def __init__(
        self,
        config: Config,
        *,
        policy: PolicyEvaluator | None = None,
        progress: LayerProgress | None = None,
        search: DenyList | None = None,
    ) -> None:
        self.config = config
        self.search = search  # SBOM components reported under ``evidence.contains``; never part of a verdict
        self.policy = policy or PolicyEvaluator.from_config(config)
        self.trust = TrustPolicy.from_config(config.trust)
        self.deny_list = DenyList.from_params(config.rule_params().get("sbom.denied-component"))
        self.scanner = ImageScanner(config, progress=progress)
        self._client: RegistryClient | None = None
        self._context_read = tuple(sorted(self.policy.reads_context - {"namespace"}))
        limits = config.limits
        self._verdicts: LoadingCache[tuple[Any, ...], ImageResult] = LoadingCache(
            _ttl_cache(limits.cache_entries, limits.cache_bytes, limits.cache_ttl_seconds), is_negative=lambda result: not result.evaluated
        )
        self._facts: LoadingCache[tuple[Any, ...], tuple[_Gathered, ...]] = LoadingCache(
            _ttl_cache(limits.cache_entries, limits.cache_bytes, limits.cache_ttl_seconds),
            is_negative=lambda gathered: any(item.facts.errors for item in gathered),
            negative_exceptions=(GateError,),
        )
        self._digests: LoadingCache[tuple[str, str, str | None, str | None], str] = LoadingCache(
            _ttl_cache(limits.cache_entries, limits.cache_bytes, min(limits.cache_ttl_seconds, TAG_TTL_SECONDS)),
            negative_exceptions=(GateError,),
        )

    @property
    def policy_digest(self) -> str:
        return self.policy.digest

    @property
    def client(self) -> RegistryClient:
        """The pooled registry client (opened lazily)."""
        if self._client is None:
            self._client = RegistryClient(self.config)
        return self._client

    async def __aenter__(self) -> "Engine":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the registry connection pool now rather than on the first check."""
        _ = self.client

    async def close(self) -> None:
        """Close the registry client and its connections."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def check(
        self,
        reference: str,
        context: WorkloadContext = WorkloadContext(),
        *,
        platform: str | None = None,
        deadline: float | None = None,
    ) -> ImageResult:
        """Judge one image reference; never raises for bad input, registries or evidence.

        Verdicts are cached by (digest, reference, platform, the workload context the policies
        read); the expensive part, the gathered facts, by digest alone, so a push event or another
        namespace warms it for everyone. Concurrent identical checks share one evaluation.

        Args:
            reference: the image reference as the user or pod spec wrote it.
            context: the workload context from an admission request.
            platform: judge only this ``os/arch[/variant]`` of an index.
            deadline: ``time.monotonic()`` value by which a verdict is due.
        """
        now = dt.datetime.now(dt.timezone.utc)
        try:
            return await _within(deadline, self._check(reference, context, platform, now))
        except GateError as exc:
            return self.error_result(reference, exc)
        except Exception as exc:  # a defect must neither admit the image nor abort the other checks
            log.exception("internal error evaluating %s", reference)
            internal = GateError(f"internal error ({type(exc).__name__}) while evaluating", remedy="see the gate logs and report it")
            return self.error_result(reference, internal)

    async def inputs(self, reference: str, context: WorkloadContext = WorkloadContext(), *, platform: str | None = None) -> dict[str, dict[str, Any]]:
        """The exact input document the policies get for each platform image of ``reference``
        (``gate policy input``), keyed by platform.

        Raises:
            GateError: the reference cannot be read or its evidence gathered.
        """
        now = dt.datetime.now(dt.timezone.utc)
        pinned = Reference.parse(reference)
        top = await self._client_for(context).manifest(pinned)
        gathered = await self._gather(self._client_for(context), pinned.with_digest(top.digest), top, platform, now)
        return {item.platform: self._document(item, reference, context, now) for item in gathered}

    def error_result(self, reference: str, error: GateError) -> ImageResult:
        """The fail-closed verdict for an image that could not be evaluated (``warn`` when fail-open)."""
        action: Literal["deny", "warn"] = "warn" if self.config.fail_open else "deny"
        violation = Violation(EVALUATION_ERROR, action, f"{reference}: {error.diagnostics()}", dict(error.details))
        return ImageResult(reference=reference, digest=error.details.get("digest"), violations=(violation,))

    def stats(self) -> dict[str, Any]:
        """Cache counters for the metrics endpoint."""
        return {"caches": {"verdicts": self._verdicts.stats, "facts": self._facts.stats, "digests": self._digests.stats}}

    def resolved_digest(self, text: str, context: WorkloadContext) -> str | None:
        """The digest a recent check resolved ``text`` to with ``context``'s credentials, from the
        tag cache (no I/O); None when unknown, unparseable or failed. ``POST /mutate`` pins with it."""
        try:
            found = self._digests.cache.get(_access_key(Reference.parse(text), context))
        except GateError:
            return None
        return found if isinstance(found, str) else None

    async def _check(self, text: str, context: WorkloadContext, platform: str | None, now: dt.datetime) -> ImageResult:
        reference = Reference.parse(text)
        access_key = _access_key(reference, context)
        fetched: list[Manifest] = []  # the manifest read by a cache miss here is reused below

        async def read_manifest() -> str:
            fetched.append(await self._client_for(context).manifest(reference))
            digest = fetched[0].digest
            if reference.digest is None:
                # These credentials just read the tag's manifest: the same object pinned by digest
                # (what POST /mutate writes) needs no second read to prove access.
                self._digests.cache.put(_access_key(reference.with_digest(digest), context), digest)
            return digest

        digest = await self._digests.get_or_load(access_key, read_manifest)
        pinned = reference.with_digest(digest)
        top = fetched[0] if fetched else None
        key = (digest, text, platform, context.namespace, *(getattr(context, name) for name in self._context_read))
        return await self._verdicts.get_or_load(key, lambda: self._verdict(self._client_for(context), pinned, top, text, context, platform, now))

    async def _verdict(
        self,
        client: RegistryClient,
        reference: Reference,
        top: Manifest | None,
        text: str,
        context: WorkloadContext,
        platform: str | None,
        now: dt.datetime,
    ) -> ImageResult:
        key = (reference.registry, reference.repository, reference.digest, platform)
        gathered = await self._facts.get_or_load(key, lambda: self._gather(client, reference, top, platform, now))
        judged = await asyncio.gather(*(self._judge(item, text, context, now) for item in gathered))
        violations = tuple(v for violations, _ in judged for v in violations)
        evidence = {"platforms": {item.platform: found for item, (_, found) in zip(gathered, judged, strict=True)}}
        return ImageResult(reference=text, digest=reference.digest, violations=violations, evidence=evidence)

    async def _gather(
        self, client: RegistryClient, reference: Reference, top: Manifest | None, platform: str | None, now: dt.datetime
    ) -> tuple[_Gathered, ...]:
        """Everything known about the image at ``reference`` (pinned by digest), per platform."""
        top = top or await client.manifest(reference)
        targets, attached = await asyncio.gather(
            self._targets(client, reference, top, platform),
            discover(client, reference, top, blob_bytes=self.config.limits.blob_bytes, total_bytes=self.config.limits.evidence_bytes),
        )
        return tuple(await asyncio.gather(*(self._gather_target(client, target, attached, now) for target in targets)))

    def _client_for(self, context: WorkloadContext) -> RegistryClient:
        """The client carrying the workload's pull secrets; built only on a cache miss, since
        parsing the secrets is wasted work on the warm admission path."""
        if not context.pull_secrets:
            return self.client
        return self.client.with_credentials(CredentialStore.from_docker_config(context.pull_secrets, source="imagePullSecrets"))

    async def _targets(self, client: RegistryClient, reference: Reference, top: Manifest, platform: str | None) -> list[_Target]:
        if not top.is_index:
            subject = Subject(top.digest, None, None)
            return [_Target(reference.with_digest(top.digest), top, None, subject)]
        runnable = await runnable_manifests(client, reference, top, platform)
        subject_of = lambda manifest: Subject(manifest.digest, top.digest, top.json)  # noqa: E731
        return [_Target(reference.with_digest(item.manifest.digest), item.manifest, item.platform, subject_of(item.manifest)) for item in runnable]

    async def _gather_target(self, client: RegistryClient, target: _Target, attached: AttachedEvidence, now: dt.datetime) -> _Gathered:
        found = evidence_facts(attached, target.subject, self.trust, self.deny_list, now, self.search)
        image = await self.scanner.scan(client, target.reference, target.manifest, found.build_args)
        identity = ImageIdentity(
            reference=str(target.reference),
            registry=target.reference.registry,
            repository=target.reference.repository,
            digest=target.manifest.digest,
            platform=target.platform,
            index_digest=target.subject.index_digest,
        )
        facts = Facts(
            image=identity,
            config=image.config,
            user=image.user,
            signatures=found.signatures,
            provenance=found.provenance,
            sbom=found.sbom,
            findings=image.findings,
            errors=image.errors,
            vulnerability_scans=found.vulnerability_scans,
        )
        return _Gathered(facts, tuple(problem.message for problem in found.problems), target.platform or image.platform, found.contains)

    @staticmethod
    def _document(item: _Gathered, text: str, context: WorkloadContext, now: dt.datetime) -> dict[str, Any]:
        facts = replace(item.facts, image=replace(item.facts.image, reference=text))
        return input_document(facts, context.policy_view(), now)

    async def _judge(self, item: _Gathered, text: str, context: WorkloadContext, now: dt.datetime) -> tuple[list[Violation], dict[str, Any]]:
        document = self._document(item, text, context, now)
        raws = await asyncio.to_thread(self.policy.evaluate, document)
        violations = decide(raws, self.config, namespace=context.namespace, image=text, now=now)
        summary = {"digest": item.facts.image.digest} | evidence_summary(document) | {"problems": list(item.problems)}
        if self.search is not None:
            summary["contains"] = list(item.contains)
        return [replace(v, platform=item.platform, platform_digest=item.facts.image.digest) for v in violations], summary


async def _within(deadline: float | None, work: Awaitable[T]) -> T:
    """Await ``work`` until ``deadline``; past it, raise ``LimitExceeded`` (fail closed, retry later)."""
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


def _access_key(reference: Reference, context: WorkloadContext) -> tuple[str, str, str | None, str | None]:
    """The tag cache's key: the image, read with the workload's own credentials (cached per
    credential set), also for digest references: a pod that cannot read an image never borrows
    another pod's access."""
    credentials = hashlib.sha256(context.pull_secrets).hexdigest() if context.pull_secrets else None
    return (reference.registry, reference.repository, reference.digest or reference.tag, credentials)


def _ttl_cache(entries: int, max_bytes: int, ttl: float) -> TTLCache[Any, Any]:
    return TTLCache(max_entries=entries, max_bytes=max_bytes, ttl=ttl, negative_ttl=min(ttl, NEGATIVE_TTL_SECONDS))
