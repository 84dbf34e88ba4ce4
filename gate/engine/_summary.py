"""Find a verification summary this gate may use instead of gathering, verifying and scanning.

Looks only at the image's OCI referrers of the Sigstore bundle type (the referrers API, else the
tag-schema index), skips bundles whose ``dev.sigstore.bundle.predicateType`` annotation names
another predicate, and checks the newest candidates first, at most ``MAX_CANDIDATES`` of them, so
whoever can push to the repository cannot make a gate fetch without end. Cost when a summary is
accepted: the listing, one manifest and one small blob; no config or layer blob of the image.

A consumer with ``images`` takes only the scan facts from a summary: it rebuilds the attached
evidence the summary carries (every byte checked against its digest) and verifies signatures and
attestations itself against its own image-policy authorities.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from gate.engine._gathered import Gathered
from gate.engine._image import ImageFacts
from gate.engine._portable import PlatformFacts, PortableEvidence
from gate.errors import EvidenceError, GateError, VerificationError
from gate.evidence import BUNDLE_MEDIA_TYPES, BUNDLE_V03, CREATED_ANNOTATION, PREDICATE_ANNOTATION, VERIFICATION_SUMMARY, created_at
from gate.policy_input import ImageIdentity
from gate.registry import Descriptor, Manifest, Reference, RegistryClient
from gate.verify import ListedVerifier, TrustPolicy, VerifiedSummary, verify_summary

MAX_CANDIDATES = 8


@dataclass(frozen=True)
class Wanted:
    """A platform image the consumer must judge: its digest and the platform name it reports."""

    digest: str
    platform: str | None


@dataclass(frozen=True)
class SummaryLookup:
    """The facts of an accepted summary (None when none was), and every summary ignored, with why."""

    gathered: tuple[Gathered | PlatformFacts, ...] | None
    ignored: tuple[str, ...]


@dataclass(frozen=True)
class SummaryContext:
    """What a summary is checked against: this gate's verifiers, policy, caps and clock; with
    ``trust`` (a gate with ``images``), the trust the summary's attached evidence is verified against."""

    verifiers: tuple[ListedVerifier, ...]
    policy_digest: str
    layers_scanned: bool
    blob_bytes: int
    now: dt.datetime
    trust: TrustPolicy | None = None


async def find_summary(client: RegistryClient, reference: Reference, top: Manifest, wanted: list[Wanted], context: SummaryContext) -> SummaryLookup:
    """The newest acceptable summary about ``top`` covering every ``wanted`` platform image.

    A summary is a shortcut: anything that goes wrong (the registry included) only means it is
    ignored and reported, and the full check then runs (and fails closed if the registry is down).
    """
    try:
        listed = await client.referrers(reference, top.digest, artifact_type=BUNDLE_V03)
    except GateError as exc:
        return SummaryLookup(None, (f"verification summaries of {top.digest} could not be listed: {exc.message}",))
    candidates = sorted(
        (d for d in listed if d.annotations.get(PREDICATE_ANNOTATION, VERIFICATION_SUMMARY) == VERIFICATION_SUMMARY),
        key=lambda d: created_at(d.annotations.get(CREATED_ANNOTATION, "")),
        reverse=True,
    )
    ignored: list[str] = []
    for descriptor in candidates[:MAX_CANDIDATES]:
        try:
            verified = await _verified(client, reference, top, descriptor, context)
            if verified is None:
                continue
            gathered = _platform_facts(verified, reference, top, wanted, context)
        except GateError as exc:
            ignored.append(f"verification summary {descriptor.digest} ignored: {exc.message}")
            continue
        return SummaryLookup(tuple(_with_problems(item, ignored) for item in gathered), tuple(ignored))
    return SummaryLookup(None, tuple(ignored))


async def _verified(client: RegistryClient, reference: Reference, top: Manifest, descriptor: Descriptor, context: SummaryContext) -> VerifiedSummary | None:
    """The checked summary a referrer holds; None when it turns out to be another kind of bundle.

    Raises:
        GateError: the summary must be ignored (it does not verify, is malformed, or cannot be fetched).
    """
    source = f"referrer {descriptor.digest}"
    manifest = await client.manifest(reference.with_digest(descriptor.digest))
    if manifest.annotations.get(PREDICATE_ANNOTATION, VERIFICATION_SUMMARY) != VERIFICATION_SUMMARY:
        return None
    if manifest.subject is None or manifest.subject.digest != top.digest:
        raise VerificationError(f"{source} is listed for {top.digest} but its subject is {manifest.subject.digest if manifest.subject else None}")
    layers = [layer for layer in manifest.layers if layer.media_type in BUNDLE_MEDIA_TYPES]
    if len(layers) != 1:
        raise VerificationError(f"{source} holds {len(layers)} bundle layers, not one")
    bundle = await client.blob(reference, layers[0], max_bytes=context.blob_bytes)
    verified = verify_summary(bundle, source, top.digest, context.policy_digest, context.verifiers, context.now)
    if context.layers_scanned and not verified.summary.layers_scanned:
        raise VerificationError(f"{source}: made without scanning layers, and this gate scans them")
    return verified


def _platform_facts(verified: VerifiedSummary, reference: Reference, top: Manifest, wanted: list[Wanted], context: SummaryContext) -> list[Gathered | PlatformFacts]:
    """One :class:`Gathered` per wanted platform image, from the summary's entries; with
    ``context.trust``, a :class:`PlatformFacts` whose evidence is verified here instead.

    Raises:
        VerificationError: the summary does not cover a wanted platform image.
        EvidenceError: an entry is malformed, or its evidence is missing or does not check out.
    """
    entries = {entry.get("digest"): (index, entry) for index, entry in enumerate(verified.summary.platforms)}
    missing = [w.digest for w in wanted if w.digest not in entries]
    if missing:
        raise VerificationError(f"{verified.source}: covers {', '.join(map(str, entries))}, not {', '.join(missing)}")
    report = verified.report()
    gathered: list[Gathered | PlatformFacts] = []
    for want in wanted:
        index, entry = entries[want.digest]
        identity = ImageIdentity(
            reference=str(reference.with_digest(want.digest)),
            registry=reference.registry,
            repository=reference.repository,
            digest=want.digest,
            platform=want.platform,
            index_digest=top.digest if top.is_index else None,
        )
        what = f"{verified.source} gateFacts.platforms[{index}]"
        facts = Gathered.from_summary_json(entry, identity, report, what)
        gathered.append(facts if context.trust is None else _verified_here(entry, facts, top, what, context.trust, context.now))
    return gathered


def _verified_here(entry: dict[str, Any], facts: Gathered, top: Manifest, what: str, trust: TrustPolicy, now: dt.datetime) -> PlatformFacts:
    """The summary's scan facts with the attached evidence it carries, verified against ``trust``.

    Raises:
        EvidenceError: the entry carries no evidence, or it does not check out.
    """
    if entry.get("evidence") is None:
        raise EvidenceError(f"{what} carries no attached evidence, which a gate with images verifies itself (made by an older gate, or the evidence was too large)")
    evidence = PortableEvidence.from_json(entry["evidence"], top.digest, f"{what}.evidence")
    if evidence.subject.digest != facts.facts.image.digest:
        raise EvidenceError(f"{what}.evidence is about {evidence.subject.digest}, not {facts.facts.image.digest}")
    known = facts.facts
    scan = ImageFacts(known.config, known.user, known.findings, known.errors, facts.declared_platform)
    return PlatformFacts.verify(known.image, scan, evidence, trust, now, summary=facts.summary)


def _with_problems(item: Gathered | PlatformFacts, ignored: list[str]) -> Gathered | PlatformFacts:
    if isinstance(item, PlatformFacts):
        return replace(item, ignored=tuple(ignored))
    return replace(item, problems=(*ignored, *item.problems))
