"""Signature artifacts fetched from a registry, parsed into frozen models (bytes in, no I/O).

Three storage layouts carry signatures for an image digest:

* ``cosign-legacy``: a layer of the ``sha256-<hex>.sig`` manifest; the blob is the simple-signing
  payload, the annotations hold ``dev.cosignproject.cosign/signature`` (base64),
  ``dev.sigstore.cosign/certificate`` and ``…/chain`` (PEM) and ``…/bundle`` (the Rekor signed
  entry timestamp, "SET", with the log entry it covers).
* ``cosign-attestation``: a layer of the ``.att`` manifest; the blob is a DSSE envelope, the same
  certificate/chain/bundle annotations apply.
* ``sigstore-bundle``: a Sigstore bundle (v0.1–v0.3) stored as an OCI 1.1 referrer (cosign v3).

Parsing checks only shape (strict base64, JSON types); whether anything verifies is
``gate.verify``'s job. A layer that cannot be parsed becomes a :class:`MalformedSignature`, so one
garbage ``.sig`` layer is a failed signature check, never an aborted evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gate.errors import EvidenceError, LimitExceeded
from gate.evidence import _json

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_ENVELOPE = "application/vnd.dsse.envelope.v1+json"
BUNDLE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
    }
)

ANNOTATION_SIGNATURE = "dev.cosignproject.cosign/signature"
ANNOTATION_CERTIFICATE = "dev.sigstore.cosign/certificate"
ANNOTATION_CHAIN = "dev.sigstore.cosign/chain"
ANNOTATION_BUNDLE = "dev.sigstore.cosign/bundle"

LAYOUT_LEGACY = "cosign-legacy"
LAYOUT_ATTESTATION = "cosign-attestation"
LAYOUT_BUNDLE = "sigstore-bundle"


@dataclass(frozen=True)
class RekorSET:
    """cosign's ``dev.sigstore.cosign/bundle``: a Rekor v1 entry and its signed entry timestamp.

    ``body_b64`` is kept exactly as written because the SET signs that string.
    """

    signed_entry_timestamp: bytes
    body_b64: str
    body: bytes
    integrated_time: int
    log_index: int
    log_id: str

    @classmethod
    def from_annotation(cls, text: str, what: str) -> RekorSET:
        """Parse the annotation JSON ``{SignedEntryTimestamp, Payload{body, integratedTime, logIndex, logID}}``.

        Raises:
            EvidenceError: not that shape.
        """
        document = _json.obj(_json.load(text, what), what)
        payload = _json.obj(document.get("Payload"), f"{what}.Payload")
        body_b64 = _json.string(payload, "body", f"{what}.Payload")
        return cls(
            signed_entry_timestamp=_json.b64(_json.string(document, "SignedEntryTimestamp", what), f"{what}.SignedEntryTimestamp"),
            body_b64=body_b64,
            body=_json.b64(body_b64, f"{what}.Payload.body"),
            integrated_time=_integer(payload, "integratedTime", f"{what}.Payload"),
            log_index=_integer(payload, "logIndex", f"{what}.Payload"),
            log_id=_json.string(payload, "logID", f"{what}.Payload").lower(),
        )


@dataclass(frozen=True)
class CosignMaterial:
    """What the cosign annotations add to a signature: certificate, chain and Rekor SET (each optional)."""

    certificate: bytes | None
    chain: bytes | None
    rekor: RekorSET | None

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, str], what: str) -> CosignMaterial:
        """Raises EvidenceError when the bundle annotation is present but malformed."""
        bundle = annotations.get(ANNOTATION_BUNDLE)
        certificate = annotations.get(ANNOTATION_CERTIFICATE)
        chain = annotations.get(ANNOTATION_CHAIN)
        return cls(
            certificate=certificate.encode() if certificate else None,
            chain=chain.encode() if chain else None,
            rekor=RekorSET.from_annotation(bundle, f"{what} annotation {ANNOTATION_BUNDLE}") if bundle else None,
        )


@dataclass(frozen=True)
class CosignSignature:
    """One simple-signing layer of a cosign ``.sig`` manifest."""

    source: str
    payload: bytes
    signature: bytes
    material: CosignMaterial
    layout: str = LAYOUT_LEGACY


@dataclass(frozen=True)
class DsseEnvelope:
    """A DSSE envelope: payload type, payload and the signatures over PAE(type, payload)."""

    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]

    @classmethod
    def from_bytes(cls, data: bytes, what: str) -> DsseEnvelope:
        """Raises EvidenceError: not JSON, missing fields, bad base64 or no signature."""
        return cls.from_json(_json.obj(_json.load(data, what), what), what)

    @classmethod
    def from_json(cls, document: dict[str, Any], what: str) -> DsseEnvelope:
        """Build from an already-decoded envelope object."""
        entries = _json.opt_list(document, "signatures", what)
        signatures = tuple(
            _json.b64(_json.string(_json.obj(entry, f"{what}.signatures[{index}]"), "sig", f"{what}.signatures[{index}]"), f"{what}.signatures[{index}].sig")
            for index, entry in enumerate(entries)
        )
        if not signatures:
            raise EvidenceError(f"{what} carries no signature")
        return cls(
            payload_type=_json.string(document, "payloadType", what),
            payload=_json.b64(_json.string(document, "payload", what), f"{what}.payload"),
            signatures=signatures,
        )

    def pae(self) -> bytes:
        """The DSSE pre-authentication encoding, the bytes every signature covers."""
        kind = self.payload_type.encode()
        return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(self.payload), self.payload)


@dataclass(frozen=True)
class CosignAttestation:
    """One DSSE layer of a cosign ``.att`` manifest."""

    source: str
    envelope: DsseEnvelope
    material: CosignMaterial
    layout: str = LAYOUT_ATTESTATION


@dataclass(frozen=True)
class SigstoreBundle:
    """A Sigstore bundle document (any supported version), kept as bytes for the verifier."""

    source: str
    raw: bytes
    media_type: str
    layout: str = LAYOUT_BUNDLE

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str) -> SigstoreBundle:
        """Raises EvidenceError: not a JSON object or an unknown bundle media type."""
        what = f"Sigstore bundle {source}"
        media_type = _json.string(_json.obj(_json.load(data, what), what), "mediaType", what)
        if media_type not in BUNDLE_MEDIA_TYPES:
            raise EvidenceError(f"{what} has unsupported mediaType {media_type!r}")
        return cls(source=source, raw=bytes(data), media_type=media_type)


@dataclass(frozen=True)
class MalformedSignature:
    """A stored signature that could not be parsed; it counts as a signature that fails verification."""

    source: str
    layout: str
    reason: str


SignatureArtifact = CosignSignature | CosignAttestation | SigstoreBundle | MalformedSignature


@dataclass(frozen=True)
class StoredLayer:
    """A blob as discovery hands it over: media type, annotations, bytes and where it came from."""

    media_type: str
    annotations: Mapping[str, str]
    data: bytes
    source: str


def parse_signature_layer(layer: StoredLayer) -> CosignSignature | CosignAttestation | SigstoreBundle | None:
    """Parse one stored layer; ``None`` when its media type is not a signature at all.

    Raises:
        EvidenceError: a signature layer whose content or annotations are malformed.
    """
    what = f"signature layer {layer.source}"
    if layer.media_type == SIMPLE_SIGNING:
        encoded = layer.annotations.get(ANNOTATION_SIGNATURE)
        if not encoded:
            raise EvidenceError(f"{what} has no {ANNOTATION_SIGNATURE} annotation")
        return CosignSignature(
            source=layer.source,
            payload=bytes(layer.data),
            # Go's base64 decoder, which cosign and containers/image use, skips CR and LF.
            signature=_json.b64(encoded.replace("\r", "").replace("\n", ""), f"{what} annotation {ANNOTATION_SIGNATURE}"),
            material=CosignMaterial.from_annotations(layer.annotations, what),
        )
    if layer.media_type == DSSE_ENVELOPE:
        return CosignAttestation(
            source=layer.source,
            envelope=DsseEnvelope.from_bytes(layer.data, f"DSSE envelope {layer.source}"),
            material=CosignMaterial.from_annotations(layer.annotations, what),
        )
    if layer.media_type in BUNDLE_MEDIA_TYPES:
        return SigstoreBundle.from_bytes(layer.data, source=layer.source)
    return None


def parse_signature_layers(layers: Iterable[StoredLayer]) -> list[SignatureArtifact]:
    """Parse every layer, keeping malformed signatures as :class:`MalformedSignature` and dropping non-signatures."""
    artifacts: list[SignatureArtifact] = []
    for layer in layers:
        try:
            parsed = parse_signature_layer(layer)
        except (EvidenceError, LimitExceeded) as exc:
            artifacts.append(MalformedSignature(source=layer.source, layout=_layout_of(layer.media_type), reason=exc.message))
            continue
        if parsed is not None:
            artifacts.append(parsed)
    return artifacts


def _layout_of(media_type: str) -> str:
    if media_type == SIMPLE_SIGNING:
        return LAYOUT_LEGACY
    if media_type == DSSE_ENVELOPE:
        return LAYOUT_ATTESTATION
    return LAYOUT_BUNDLE


def _integer(parent: dict[str, Any], key: str, what: str) -> int:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EvidenceError(f"{what}.{key} must be an integer")
    return value


__all__ = [
    "ANNOTATION_BUNDLE",
    "ANNOTATION_CERTIFICATE",
    "ANNOTATION_CHAIN",
    "ANNOTATION_SIGNATURE",
    "BUNDLE_MEDIA_TYPES",
    "DSSE_ENVELOPE",
    "LAYOUT_ATTESTATION",
    "LAYOUT_BUNDLE",
    "LAYOUT_LEGACY",
    "SIMPLE_SIGNING",
    "CosignAttestation",
    "CosignMaterial",
    "CosignSignature",
    "DsseEnvelope",
    "MalformedSignature",
    "RekorSET",
    "SignatureArtifact",
    "SigstoreBundle",
    "StoredLayer",
    "parse_signature_layer",
    "parse_signature_layers",
]
