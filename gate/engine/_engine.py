"""One image reference in, one verdict out: resolve, gather, verify, scan, decide.

This is the only place a ``GateError`` becomes an ``evaluation.error`` violation: everything below
raises, the engine reports. A multi-arch index is judged on every manifest a runtime could select from
it (``_selection``), or on those a node of the asked platform could; the worst decision wins and
each violation names its platform.

An evaluation runs as its own task, shared by everyone asking the same question at once, and is
not tied to any caller's deadline: a caller whose deadline comes first gets an "in progress"
verdict (``evaluation.error``, saying when to expect the real one) while the evaluation goes on,
bounded by ``limits.evaluation_seconds``, and caches its verdict for the retry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
import operator
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from gate.cache import LoadingCache, SingleFlight, TTLCache
from gate.config import Config, ImagePolicy
from gate.engine._evaluations import EvaluationProgress, EvaluationSlots, current_progress, track
from gate.engine._verified import EvidenceFacts, PlatformImage, evidence_facts, verify_evidence
from gate.engine._gathered import Gathered
from gate.engine._image import ImageScanner, LayerProgress
from gate.engine._portable import PlatformFacts, PortableEvidence
from gate.engine._tasks import all_or_none, both, started
from gate.errors import GateError, LimitExceeded
from gate.evidence import AttachedEvidence, DenyList, discover
from gate.policy_input import Facts, ImageIdentity, evidence_summary, input_document
from gate.policy import PolicyEvaluator, decide, effective_params, scoped_rules
from gate.registry import Manifest, Reference, RegistryClient
from gate.report import ImageResult, Violation
from gate.rules import EVALUATION_ERROR
from gate.verify import ImageScope, TrustPolicy, image_scope, listed_verifiers

if TYPE_CHECKING:
    from gate.engine._summary import SummaryContext
    from gate.shared_cache import SharedCache, SharedLevel

log = logging.getLogger(__name__)
TAG_TTL_SECONDS = 30.0  # a tag can move: its digest is trusted this long at most
NEGATIVE_TTL_SECONDS = 5.0  # a failing registry is asked again this soon, not on every request
PENDING = "in_progress"  # detail marking the answer given while the evaluation still runs


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


Known = PlatformFacts | Gathered  # evidence verified here, or every fact taken from a verification summary


@dataclass(frozen=True)
class _Prepared:
    """One platform image's policy input as a workload sees it, and what goes beside the verdict."""

    document: dict[str, Any]
    problems: list[str]
    entries: tuple[ImagePolicy, ...]  # the image policies that apply (their rule overrides too)
    contains: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class _Target:
    """One platform manifest to judge."""

    reference: Reference
    manifest: Manifest
    platform: str | None
    subject: PlatformImage


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
        self.trust = TrustPolicy.from_config(config.trust, config.images)
        self.verifiers = listed_verifiers(config.trust)
        self._deny_lists: dict[str, DenyList] = {}
        for _, rules in config.rule_maps():  # every deny list parses at start-up, wherever it is configured
            self._deny_list(rules["sbom.denied-component"].params() if "sbom.denied-component" in rules else None)
        limits = config.limits
        self.shared: SharedCache | None = None
        self._shared_levels: dict[str, SharedLevel[Any, Any] | None] = dict.fromkeys(("verdicts", "layers", "facts"))
        if config.cache.url:
            self._share_through(config)
        self.scanner = ImageScanner(config, progress=progress, second_level=self._load_through("layers"))
        self._client: RegistryClient | None = None
        self._context_read = _attributes_getter(sorted(self.policy.reads_context - {"namespace"}))
        self._verdicts: LoadingCache[tuple[Any, ...], ImageResult] = LoadingCache(
            _ttl_cache(limits.cache_entries, limits.cache_bytes, limits.cache_ttl_seconds),
            is_negative=lambda result: not result.evaluated,
            second_level=self._load_through("verdicts"),
        )
        self._facts: LoadingCache[tuple[Any, ...], tuple[Known, ...]] = LoadingCache(
            _ttl_cache(limits.cache_entries, limits.cache_bytes, limits.cache_ttl_seconds),
            is_negative=lambda gathered: any(_identity_errors(item) for item in gathered),
            negative_exceptions=(GateError,),
            second_level=_facts_through(self._shared_levels["facts"]),
        )
        self._digests: LoadingCache[tuple[str, str, str | None, str | None], str] = LoadingCache(
            _ttl_cache(limits.cache_entries, limits.cache_bytes, min(limits.cache_ttl_seconds, TAG_TTL_SECONDS)),
            negative_exceptions=(GateError,),
        )
        self._checks: SingleFlight[tuple[Any, ...], ImageResult] = SingleFlight()
        self._progress: dict[tuple[Any, ...], EvaluationProgress] = {}
        self._slots = EvaluationSlots(limits.background_evaluations)

    def _share_through(self, config: Config) -> None:
        """Put Redis (``cache.url``) behind the verdict, layer-scan and facts caches; a gate
        without it never imports the shared cache's client or codecs."""
        from gate.engine._shared import LAYERS, VERDICTS, facts_codec, namespace
        from gate.shared_cache import SharedCache, SharedLevel

        shared = self.shared = SharedCache(config.cache, namespace(config, self.policy.digest))
        ttl = config.limits.cache_ttl_seconds
        self._shared_levels = {
            "verdicts": SharedLevel(shared, VERDICTS, ttl=ttl),
            "layers": SharedLevel(shared, LAYERS, ttl=config.cache.layer_ttl_seconds, exclusive=True),
            "facts": SharedLevel(shared, facts_codec(self.trust), ttl=ttl),
        }

    def _load_through(self, name: str) -> Any:
        """The named shared level's ``load_through``, or None without a shared cache."""
        level = self._shared_levels[name]
        return level.load_through if level is not None else None

    @property
    def evaluations_in_progress(self) -> int:
        """Evaluations started and not yet finished, whether or not anyone still waits for them."""
        return len(self._progress)

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
        """Stop the evaluations still running, then close the registry client and its connections."""
        await self._checks.cancel()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
        if self.shared is not None:
            await self.shared.close()

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
            deadline: ``time.monotonic()`` value by which a verdict is due; past it, the answer is
                an "in progress" ``evaluation.error`` (see :func:`is_pending`) and the evaluation
                goes on, so a later check finds its verdict cached.
        """
        key = (reference, platform, context)
        running = self._checks.start(key, lambda: self._evaluate(key, reference, context, platform))
        if deadline is None:
            return await asyncio.shield(running)
        done, _ = await asyncio.wait((running,), timeout=max(deadline - time.monotonic(), 0.0))
        if done:
            return running.result()
        return self._pending_result(reference, self._progress.get(key))

    async def _evaluate(self, key: tuple[Any, ...], reference: str, context: WorkloadContext, platform: str | None) -> ImageResult:
        """One whole evaluation, detached from any caller, with a progress record for "in progress" answers."""
        progress = self._progress[key] = EvaluationProgress(bound=self.config.limits.evaluation_seconds)
        track(progress)
        now = dt.datetime.now(dt.timezone.utc)
        try:
            return await self._check(reference, context, platform, now)
        except GateError as exc:
            return self.error_result(reference, exc)
        except Exception as exc:  # a defect must neither admit the image nor abort the other checks
            log.exception("internal error evaluating %s", reference)
            internal = GateError(f"internal error ({type(exc).__name__}) while evaluating", remedy="see the gate logs and report it")
            return self.error_result(reference, internal)
        finally:
            if self._progress.get(key) is progress:
                del self._progress[key]

    def _pending_result(self, reference: str, progress: EvaluationProgress | None) -> ImageResult:
        """The fail-closed answer for a verdict still being worked out: says so, and when to retry."""
        expected = progress.expected_seconds() if progress else self.config.limits.evaluation_seconds
        message = progress.describe() if progress else "evaluation in progress; retry shortly"
        return self.error_result(reference, LimitExceeded(message, details={PENDING: True, "expected_seconds": round(expected, 1)}))

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
        pinned_top = pinned.with_digest(top.digest)
        return {_platform_of(item): self._prepare(item, pinned_top, reference, context, now).document for item in gathered}

    def error_result(self, reference: str, error: GateError) -> ImageResult:
        """The fail-closed verdict for an image that could not be evaluated (``warn`` when fail-open)."""
        action: Literal["deny", "warn"] = "warn" if self.config.fail_open else "deny"
        violation = Violation(EVALUATION_ERROR, action, f"{reference}: {error.diagnostics()}", dict(error.details))
        return ImageResult(reference=reference, digest=error.details.get("digest"), violations=(violation,))

    def tag_moved(self, reference: str) -> None:
        """A push event says ``reference``'s tag moved: forget what the tag cache knows about it
        (for every credential set), and when the event names the new digest (``repo:tag@digest``)
        remember that for gate's own credentials. The registry may announce a push before its
        tag answers with the new digest, so re-reading the tag at once could keep the old one."""
        try:
            parsed = Reference.parse(reference)
        except GateError:
            return
        if parsed.tag is None:
            return
        wanted = (parsed.registry, parsed.repository, parsed.tag)
        self._digests.cache.discard_where(lambda key: key[:3] == wanted)
        if parsed.digest:
            self._digests.cache.put((*wanted, None), parsed.digest)

    def stats(self) -> dict[str, Any]:
        """Cache and evaluation counters for the metrics endpoint."""
        caches = {"verdicts": self._verdicts.stats, "facts": self._facts.stats, "digests": self._digests.stats}
        shared = {f"shared_{name}": level.stats for name, level in self._shared_levels.items() if level is not None}
        fallbacks = self.shared.stats.fallbacks if self.shared is not None else {}
        return {"caches": caches | shared, "evaluations": self._slots.stats, "shared_fallbacks": fallbacks}

    def resolved_digest(self, text: str, context: WorkloadContext) -> str | None:
        """The digest a recent check resolved ``text`` to with ``context``'s credentials, from the
        tag cache (no I/O); None when unknown, unparseable or failed. ``POST /mutate`` pins with it."""
        try:
            found = self._digests.cache.get(_access_key(_parsed_reference(text), context))
        except GateError:
            return None
        return found if isinstance(found, str) else None

    async def _check(self, text: str, context: WorkloadContext, platform: str | None, now: dt.datetime) -> ImageResult:
        reference = _parsed_reference(text)
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
        key = self._verdict_key(digest, text, platform, context)
        return await self._verdicts.get_or_load(key, lambda: self._verdict(self._client_for(context), pinned, top, text, context, platform, now))

    def _verdict_key(self, digest: str, text: str, platform: str | None, context: WorkloadContext) -> tuple[Any, ...]:
        """What a verdict depends on: the digest, the reference as written, the platform asked for
        and the parts of the workload context the policies read."""
        return (digest, text, platform, context.namespace, *self._context_read(context))

    def cached_verdict(self, text: str, context: WorkloadContext = WorkloadContext(), *, platform: str | None = None) -> ImageResult | None:
        """The verdict :meth:`check` would answer from its tag and verdict caches alone, found
        without starting an evaluation task or any I/O (the webhook's warm path); None when
        either cache lacks a live entry for it (then :meth:`check` decides, and counts the miss)."""
        try:
            reference = _parsed_reference(text)
        except GateError:
            return None
        digest = self._digests.cache.get_live(_access_key(reference, context))
        if not isinstance(digest, str):
            return None
        verdict: ImageResult | None = self._verdicts.cache.get_live(self._verdict_key(digest, text, platform, context))
        return verdict

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
        gathered = await self._facts.get_or_load(key, lambda: self._gather_bounded(client, reference, top, platform, now))
        judged = await asyncio.gather(*(self._judge(item, reference, text, context, now) for item in gathered))
        violations = tuple(v for violations, _ in judged for v in violations)
        evidence: dict[str, Any] = {"platforms": {_platform_of(item): found for item, (_, found) in zip(gathered, judged, strict=True)}}
        if gathered[0].summary is not None:
            evidence = evidence | {"summary": gathered[0].summary}
        return ImageResult(reference=text, digest=reference.digest, violations=violations, evidence=evidence)

    async def _gather_bounded(
        self, client: RegistryClient, reference: Reference, top: Manifest | None, platform: str | None, now: dt.datetime
    ) -> tuple[Known, ...]:
        """:meth:`_gather` in one of the ``limits.background_evaluations`` slots, within ``limits.evaluation_seconds``.

        Raises:
            LimitExceeded: the gathering outlived its bound (cached briefly, like any error).
        """
        bound = self.config.limits.evaluation_seconds
        async with self._slots.slot(current_progress()):
            try:
                async with asyncio.timeout(bound):
                    return await self._gather(client, reference, top, platform, now)
            except TimeoutError as exc:
                raise LimitExceeded(
                    f"evaluating {reference} took longer than limits.evaluation_seconds ({bound:g}s)",
                    remedy="check the registry's speed or raise limits.evaluation_seconds",
                    details={"digest": reference.digest},
                ) from exc

    async def _gather(
        self, client: RegistryClient, reference: Reference, top: Manifest | None, platform: str | None, now: dt.datetime
    ) -> tuple[Known, ...]:
        """Everything known about the image at ``reference`` (pinned by digest), per platform: from an
        acceptable verification summary when ``trust.verifiers`` lists its signer, else gathered.

        With ``images``, a summary gives only the scan facts: its signatures say who signed as the
        attesting gate judged it, so this gate verifies the attached evidence the summary carries
        against its own image-policy authorities instead.
        """
        client = client.reading_once()
        top = top or await client.manifest(reference)
        if not self.verifiers:
            async with started(self._discover(client, reference, top)) as attached:
                return await self._gather_targets(client, await self._targets(client, reference, top, platform), attached, now)
        # The summary must cover what the full check would judge, so the platforms are selected first.
        from gate.engine._summary import Wanted, find_summary

        targets = await self._targets(client, reference, top, platform)
        wanted = [Wanted(target.manifest.digest, target.platform) for target in targets]
        lookup = await find_summary(client, reference, top, wanted, self._summary_context(now))
        if lookup.gathered is not None:
            return lookup.gathered
        return await self._gather_targets(client, targets, self._discover(client, reference, top), now, lookup.ignored)

    def _discover(self, client: RegistryClient, reference: Reference, top: Manifest) -> Awaitable[AttachedEvidence]:
        limits = self.config.limits
        return discover(client, reference, top, blob_bytes=limits.blob_bytes, total_bytes=limits.evidence_bytes)

    async def _gather_targets(
        self, client: RegistryClient, targets: list[_Target], attached: Awaitable[AttachedEvidence], now: dt.datetime, ignored: tuple[str, ...] = ()
    ) -> tuple[PlatformFacts, ...]:
        """Each platform's facts, with the summaries that were ignored reported first; the images
        are read while their evidence is still being discovered, and one failure fails them all."""
        async with started(attached) as discovering:
            gathered = await all_or_none(*(self._gather_target(client, target, discovering, now) for target in targets))
        return tuple(replace(item, ignored=ignored) for item in gathered)

    def _summary_context(self, now: dt.datetime) -> SummaryContext:
        from gate.engine._summary import SummaryContext

        limits = self.config.limits
        trust = self.trust if self.config.images else None
        return SummaryContext(self.verifiers, self.policy_digest, self.config.scan.layers, limits.blob_bytes, now, trust)

    async def gathered(self, result: ImageResult, platform: str | None = None) -> tuple[Gathered, ...]:
        """The facts behind ``result`` (a verdict of :meth:`check`, outside any namespace), for a
        verification summary; from the facts cache, or gathered again when they were evicted.

        Raises:
            GateError: ``result`` has no digest, or gathering failed.
        """
        if result.digest is None:
            raise GateError(f"{result.reference} was not resolved to a digest")
        reference = Reference.parse(result.reference).with_digest(result.digest)
        key = (reference.registry, reference.repository, reference.digest, platform)
        now = dt.datetime.now(dt.timezone.utc)
        known = await self._facts.get_or_load(key, lambda: self._gather(self.client, reference, None, platform, now))
        return tuple(item if isinstance(item, Gathered) else self._as_summary_facts(item, reference, result.reference) for item in known)

    def _as_summary_facts(self, item: PlatformFacts, reference: Reference, text: str) -> Gathered:
        facts, found, _ = self._facts_of(item, reference, text, None)
        problems = tuple(problem.message for problem in found.problems)
        declared = item.scan.platform or "unknown"
        return Gathered(facts, problems, inputs=item.inputs, summary=item.summary, evidence=item.evidence, declared_platform=declared)

    def _client_for(self, context: WorkloadContext) -> RegistryClient:
        """The client carrying the workload's pull secrets; built only on a cache miss, since
        parsing the secrets is wasted work on the warm admission path."""
        if not context.pull_secrets:
            return self.client
        return self.client.with_pull_secrets(context.pull_secrets)

    async def _targets(self, client: RegistryClient, reference: Reference, top: Manifest, platform: str | None) -> list[_Target]:
        if not top.is_index:
            subject = PlatformImage(top.digest, None, None)
            return [_Target(reference.with_digest(top.digest), top, None, subject)]
        from gate.engine._selection import runnable_manifests  # an index's platforms, as containerd selects them

        runnable = await runnable_manifests(client, reference, top, platform)
        return [
            _Target(reference.with_digest(item.manifest.digest), item.manifest, item.platform, PlatformImage(item.manifest.digest, top.digest, top.json, top))
            for item in runnable
        ]

    async def _gather_target(self, client: RegistryClient, target: _Target, discovering: asyncio.Future[AttachedEvidence], now: dt.datetime) -> PlatformFacts:
        read, attached = await both(self.scanner.read(client, target.reference, target.manifest), asyncio.shield(discovering))
        about = attached.about(*(d for d in (target.subject.digest, target.subject.index_digest) if d))
        verified = verify_evidence(attached, target.subject, self.trust, now)
        image = self.scanner.facts(read, verified.build_args)
        identity = ImageIdentity(
            reference=str(target.reference),
            registry=target.reference.registry,
            repository=target.reference.repository,
            digest=target.manifest.digest,
            platform=target.platform,
            index_digest=target.subject.index_digest,
        )
        inputs = tuple(sorted({artifact.manifest for artifact in about}))
        evidence = PortableEvidence.of(attached, target.subject)
        return PlatformFacts(identity, image, verified, target.platform or image.platform, inputs=inputs, evidence=evidence)

    def _facts_of(self, item: PlatformFacts, reference: Reference, text: str, namespace: str | None) -> tuple[Facts, EvidenceFacts, ImageScope]:
        """The policy input's facts for one platform image as ``text`` (pinned as ``reference``) in ``namespace``.

        Raises:
            ConfigError: the scopes that apply set parameters that cannot be combined.
        """
        written = Reference.parse(text)
        scope = image_scope(self.config.images, self.trust, (reference.registry, reference.repository, written.tag, reference.digest), namespace)
        params = effective_params(self.config, scoped_rules(self.config, namespace, scope.entries))
        deny = self._deny_list(params.get("sbom.denied-component"))
        found = evidence_facts(item.verified, scope, self.trust, deny, self.policy.reads_large, self.search)
        facts = Facts(
            image=replace(item.image, reference=text),
            config=item.scan.config,
            user=item.scan.user,
            signatures=found.signatures,
            provenance=found.provenance,
            sbom=found.sbom,
            findings=item.scan.findings,
            errors=item.scan.errors,
            vulnerability_scans=found.vulnerability_scans,
            attestations=found.attestations,
            image_policies=found.image_policies,
            params=params,
        )
        return facts, found, scope

    def _prepare(self, item: Known, reference: Reference, text: str, context: WorkloadContext, now: dt.datetime) -> _Prepared:
        """The policy input for one platform image as ``text`` (pinned as ``reference``) in the workload's context.

        Raises:
            ConfigError: the scopes that apply set parameters that cannot be combined.
        """
        if isinstance(item, Gathered):  # a verification summary's facts, with this gate's parameters, context and Rego
            params = effective_params(self.config, scoped_rules(self.config, context.namespace, ()))
            facts = replace(item.facts, image=replace(item.facts.image, reference=text), params=params)
            return _Prepared(input_document(facts, context.policy_view(), now), list(item.problems), (), item.contains)
        facts, found, scope = self._facts_of(item, reference, text, context.namespace)
        problems = [*item.ignored, *(problem.message for problem in found.problems)]
        return _Prepared(input_document(facts, context.policy_view(), now), problems, scope.entries, found.contains)

    async def _judge(
        self, item: Known, reference: Reference, text: str, context: WorkloadContext, now: dt.datetime
    ) -> tuple[list[Violation], dict[str, Any]]:
        """Decide for one platform image as ``text`` (pinned as ``reference``) in the workload's namespace."""
        prepared = self._prepare(item, reference, text, context, now)
        raws = await asyncio.to_thread(self.policy.evaluate, prepared.document)
        violations = decide(raws, self.config, namespace=context.namespace, image=text, now=now, policies=prepared.entries)
        digest = _identity(item).digest
        summary = {"digest": digest} | evidence_summary(prepared.document) | {"problems": prepared.problems}
        if self.search is not None:
            summary["contains"] = list(prepared.contains)
        return [replace(v, platform=_platform_of(item), platform_digest=digest) for v in violations], summary

    def _deny_list(self, params: dict[str, Any] | None) -> DenyList:
        """The parsed deny list for these ``sbom.denied-component`` parameters (parsed once each).

        Raises:
            ConfigError: an entry does not parse.
        """
        key = json.dumps(params, sort_keys=True)
        if key not in self._deny_lists:
            self._deny_lists[key] = DenyList.from_params(params)
        return self._deny_lists[key]


def _facts_through(level: SharedLevel[Any, Any] | None) -> Callable[..., Awaitable[tuple[Known, ...]]] | None:
    """The per-digest facts cache's second level (None without a shared cache): only facts read
    here, small enough to carry, are stored (summary-backed facts stay in this replica), and each
    replica that reads them verifies their evidence again with its own trust (``gate.engine._portable``)."""
    if level is None:
        return None

    async def load_through(key: tuple[Any, ...], load: Callable[[], Awaitable[tuple[Known, ...]]], keep: Callable[[Any], bool]) -> tuple[Known, ...]:
        def shareable(value: tuple[Known, ...]) -> bool:
            return keep(value) and all(isinstance(item, PlatformFacts) and item.shareable() for item in value)

        found: tuple[Known, ...] = await level.load_through(key, load, shareable)
        return found

    return load_through


def _identity(item: Known) -> ImageIdentity:
    return item.image if isinstance(item, PlatformFacts) else item.facts.image


def _platform_of(item: Known) -> str:
    """``os/arch[/variant]``: the index entry's, else the image config's ("unknown" when it names none)."""
    if isinstance(item, PlatformFacts):
        return item.platform
    return item.facts.image.platform or item.declared_platform


def _identity_errors(item: Known) -> tuple[dict[str, Any], ...]:
    """The layers that could not be scanned (such facts are cached briefly, like errors)."""
    return item.scan.errors if isinstance(item, PlatformFacts) else item.facts.errors


def is_pending(result: ImageResult) -> bool:
    """True for the "in progress" answer of :meth:`Engine.check` (the evaluation goes on)."""
    return any(v.details.get(PENDING) for v in result.violations if v.rule == EVALUATION_ERROR)


_parsed_reference = functools.lru_cache(maxsize=4096)(Reference.parse)
"""``Reference.parse`` remembered: pod specs name the same few hundred images over and over."""


def _attributes_getter(names: list[str]) -> Callable[[object], tuple[Any, ...]]:
    """The values of the attributes ``names`` of an object, as a tuple (``attrgetter`` runs in C
    but gives a bare value for a single name)."""
    if not names:
        return lambda _: ()
    getter = operator.attrgetter(*names)
    return getter if len(names) > 1 else lambda found: (getter(found),)


def _access_key(reference: Reference, context: WorkloadContext) -> tuple[str, str, str | None, str | None]:
    """The tag cache's key: the image, read with the workload's own credentials (cached per
    credential set), also for digest references: a pod that cannot read an image never borrows
    another pod's access."""
    credentials = hashlib.sha256(context.pull_secrets).hexdigest() if context.pull_secrets else None
    return (reference.registry, reference.repository, reference.digest or reference.tag, credentials)


def _ttl_cache(entries: int, max_bytes: int, ttl: float) -> TTLCache[Any, Any]:
    return TTLCache(max_entries=entries, max_bytes=max_bytes, ttl=ttl, negative_ttl=min(ttl, NEGATIVE_TTL_SECONDS))
