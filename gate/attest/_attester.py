"""Sign a verification summary of a verdict and attach it to the image as an OCI referrer."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gate import __version__
from gate.attest._sign import sign_statement
from gate.config import Config, load_attest_key
from gate.engine import Engine, Gathered
from gate.errors import ConfigError, GateError
from gate.evidence import (
    BUNDLE_V03,
    CONTENT_ANNOTATION,
    CREATED_ANNOTATION,
    PREDICATE_ANNOTATION,
    STATEMENT_TYPES,
    VERIFICATION_SUMMARY,
    rfc3339_micros,
    summary_predicate,
)
from gate.registry import Descriptor, Reference
from gate.report import ImageResult

if TYPE_CHECKING:
    from gate.config import SigningKey


@dataclass(frozen=True)
class Attested:
    """A summary attached to an image: the referrer manifest's digest and the result it states."""

    reference: str
    image_digest: str
    referrer_digest: str
    verification_result: str


class Attester:
    """Signs and attaches verification summaries with ``attest.key`` as ``attest.verifier_id``."""

    def __init__(self, key: SigningKey, verifier_id: str, layers_scanned: bool) -> None:
        self.key = key
        self.verifier_id = verifier_id
        self.layers_scanned = layers_scanned

    @classmethod
    def from_config(cls, config: Config) -> Attester:
        """Load the signing key now, so a bad key or password fails at start-up.

        Raises:
            ConfigError: ``attest.key`` or ``attest.verifier_id`` is missing, or the key does not load.
        """
        key = load_attest_key(config.attest)
        if config.attest.verifier_id is None:  # the config already refuses a key without an id
            raise ConfigError("attest.verifier_id: not set", remedy="set attest.verifier_id with attest.key (consumers match it against trust.verifiers[].id)")
        return cls(key, config.attest.verifier_id, config.scan.layers)

    async def attest(self, engine: Engine, result: ImageResult, now: dt.datetime, platform: str | None = None) -> Attested:
        """Sign a summary of ``result`` (a verdict of ``engine``) and attach it to the image.

        Raises:
            GateError: the image was not evaluated, its facts hold errors or came from another
                summary (nothing to vouch for), or the registry refused the push.
        """
        if not result.evaluated or result.digest is None:
            raise GateError(f"{result.reference} could not be evaluated; no verification summary is signed for it")
        gathered = await engine.gathered(result, platform)
        _check_attestable(result, gathered)
        reference = Reference.parse(result.reference).with_digest(result.digest)
        subject = await _subject(engine, reference)
        statement = self._statement(reference, result, gathered, engine.policy_digest, now)
        bundle = sign_statement(self.key, json.dumps(statement, separators=(",", ":")).encode())
        annotations = {CONTENT_ANNOTATION: "dsse-envelope", PREDICATE_ANNOTATION: VERIFICATION_SUMMARY, CREATED_ANNOTATION: rfc3339_micros(now)}
        referrer = await engine.client.push_artifact(reference, subject, bundle, BUNDLE_V03, annotations)
        verdict = statement["predicate"]["verificationResult"]
        return Attested(result.reference, result.digest, referrer.digest, verdict)

    def _statement(self, reference: Reference, result: ImageResult, gathered: tuple[Gathered, ...], policy_digest: str, now: dt.datetime) -> dict:
        inputs = sorted({digest for item in gathered for digest in item.inputs})
        predicate = summary_predicate(
            verifier_id=self.verifier_id,
            version=__version__,
            time_verified=now,
            resource_uri=f"oci://{reference.registry}/{reference.repository}@{result.digest}",
            policy_digest=policy_digest,
            inputs=tuple(_input(reference, digest) for digest in inputs),
            passed=result.decision == "allow",
            layers_scanned=self.layers_scanned,
            platforms=[item.summary_json() for item in gathered],
        )
        algorithm, _, hexdigest = str(result.digest).partition(":")
        subject = {"name": f"{reference.registry}/{reference.repository}", "digest": {algorithm: hexdigest}}
        return {"_type": STATEMENT_TYPES[1], "subject": [subject], "predicateType": VERIFICATION_SUMMARY, "predicate": predicate}


def _check_attestable(result: ImageResult, gathered: tuple[Gathered, ...]) -> None:
    """Only facts this gate gathered itself, complete, are vouched for.

    Raises:
        GateError: some facts came from another summary, or a layer could not be scanned.
    """
    if any(item.summary is not None for item in gathered):
        raise GateError(f"{result.reference}: its facts came from a verification summary; only a full check is attested", remedy="attest from a gate without trust.verifiers")
    if any(item.facts.errors for item in gathered):
        raise GateError(f"{result.reference}: some layers could not be scanned; no verification summary is signed for incomplete facts")


async def _subject(engine: Engine, reference: Reference) -> Descriptor:
    """The image's own descriptor (media type and size as the registry serves it).

    Raises:
        GateError: the manifest is itself attached to another image (a signature, a summary): a
            summary of it is never made, which also keeps a push-event gate from attesting its
            own summaries without end.
    """
    manifest = await engine.client.manifest(reference)
    if manifest.subject is not None:
        raise GateError(f"{reference} is an artifact attached to {manifest.subject.digest}, not an image; it is not attested")
    return manifest.descriptor


def _input(reference: Reference, digest: str) -> dict[str, object]:
    algorithm, _, hexdigest = digest.partition(":")
    return {"uri": f"oci://{reference.registry}/{reference.repository}@{digest}", "digest": {algorithm: hexdigest}}
