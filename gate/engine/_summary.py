"""Find a verification summary this gate may use instead of gathering, verifying and scanning.

Looks only at the image's OCI referrers of the Sigstore bundle type (the referrers API, else the
tag-schema index), skips bundles whose ``dev.sigstore.bundle.predicateType`` annotation names
another predicate, and checks the newest candidates first, at most ``MAX_CANDIDATES`` of them, so
whoever can push to the repository cannot make a gate fetch without end. Cost when a summary is
accepted: the listing, one manifest and one small blob; no config or layer blob of the image.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from gate.engine._gathered import Gathered
from gate.errors import GateError, VerificationError
from gate.evidence import BUNDLE_MEDIA_TYPES, BUNDLE_V03, CREATED_ANNOTATION, PREDICATE_ANNOTATION, VERIFICATION_SUMMARY, created_at
from gate.policy_input import ImageIdentity
from gate.registry import Descriptor, Manifest, Reference, RegistryClient
from gate.verify import ListedVerifier, VerifiedSummary, verify_summary

MAX_CANDIDATES = 8


@dataclass(frozen=True)
class Wanted:
    """A platform image the consumer must judge: its digest and the platform name it reports."""

    digest: str
    platform: str | None


@dataclass(frozen=True)
class SummaryLookup:
    """The facts of an accepted summary (None when none was), and every summary ignored, with why."""

    gathered: tuple[Gathered, ...] | None
    ignored: tuple[str, ...]


@dataclass(frozen=True)
class SummaryContext:
    """What a summary is checked against: this gate's verifiers, policy, caps and clock."""

    verifiers: tuple[ListedVerifier, ...]
    policy_digest: str
    layers_scanned: bool
    blob_bytes: int
    now: dt.datetime


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
            gathered = _platform_facts(verified, reference, top, wanted)
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


def _platform_facts(verified: VerifiedSummary, reference: Reference, top: Manifest, wanted: list[Wanted]) -> list[Gathered]:
    """One :class:`Gathered` per wanted platform image, from the summary's entries.

    Raises:
        VerificationError: the summary does not cover a wanted platform image.
        EvidenceError: an entry is malformed.
    """
    entries = {entry.get("digest"): (index, entry) for index, entry in enumerate(verified.summary.platforms)}
    missing = [w.digest for w in wanted if w.digest not in entries]
    if missing:
        raise VerificationError(f"{verified.source}: covers {', '.join(map(str, entries))}, not {', '.join(missing)}")
    report = verified.report()
    gathered = []
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
        gathered.append(Gathered.from_summary_json(entry, identity, report, f"{verified.source} gateFacts.platforms[{index}]"))
    return gathered


def _with_problems(item: Gathered, ignored: list[str]) -> Gathered:
    return replace(item, problems=(*ignored, *item.problems))
