"""``SigstoreInstanceDouble``: a test double of a whole Sigstore instance, made in-process.

The public Sigstore services cannot run here, so the test suite makes its own: a Fulcio-style CA
(root + intermediate) issuing short-lived leaf certificates with the OIDC issuer extensions
(1.3.6.1.4.1.57264.1.1 and .1.8), a SAN identity, digitalSignature + codeSigning usages and an
embedded SCT from its CT log key; a Rekor-style log with an RFC 6962 Merkle tree that hands out
inclusion proofs, signed checkpoints and signed entry timestamps. :meth:`trusted_root_json`
describes all of it as a ``trusted_root.json``. Signing produces bytes in the three layouts gate
reads: cosign ``.sig`` layers (simple signing + annotations), ``.att`` layers (DSSE +
annotations) and Sigstore bundles v0.3, keyless or with a plain key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from gate.evidence._signatures import (
    ANNOTATION_BUNDLE,
    ANNOTATION_CERTIFICATE,
    ANNOTATION_CHAIN,
    ANNOTATION_SIGNATURE,
    DSSE_ENVELOPE,
    SIMPLE_SIGNING,
    StoredLayer,
)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
_SCT_LIST_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode()


def pem_public(key: Any) -> bytes:
    """A public key (or the public half of a private key) as PEM SubjectPublicKeyInfo."""
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def sign_bytes(key: PrivateKey, data: bytes) -> bytes:
    """Sign the way cosign does: ECDSA/RSA with SHA-256 (RSA PKCS#1 v1.5), Ed25519 pure."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(data)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def trusted_root_document(
    *, ca_chains: list[list[x509.Certificate]], tlog_keys: list[Any], ct_keys: list[Any], start: str = "2000-01-01T00:00:00Z"
) -> dict[str, Any]:
    """A ``trusted_root.json`` document: CA chains (leaf-most first), Rekor keys and CT log keys."""

    def authority(chain: list[x509.Certificate]) -> dict[str, Any]:
        return {
            "subject": {"organization": "gate-test", "commonName": "gate-test-ca"},
            "uri": "https://fulcio.invalid",
            "certChain": {"certificates": [{"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))} for cert in chain]},
            "validFor": {"start": start},
        }

    def log(key: Any) -> dict[str, Any]:
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return {
            "baseUrl": "https://log.invalid",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": b64(der), "keyDetails": _key_details(key), "validFor": {"start": start}},
            "logId": {"keyId": b64(hashlib.sha256(der).digest())},
        }

    return {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [log(key) for key in tlog_keys],
        "certificateAuthorities": [authority(chain) for chain in ca_chains],
        "ctlogs": [log(key) for key in ct_keys],
        "timestampAuthorities": [],
    }


def _key_details(key: Any) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "PKIX_ED25519"
    if isinstance(key, rsa.RSAPublicKey):
        return f"PKIX_RSA_PKCS1V15_{key.key_size}_SHA256"
    return {"secp256r1": "PKIX_ECDSA_P256_SHA_256", "secp384r1": "PKIX_ECDSA_P384_SHA_384"}[key.curve.name]


@dataclass(frozen=True)
class Keyless:
    """Sign with a fresh Fulcio-style certificate for ``subject`` from ``issuer``.

    ``not_before`` defaults to the signing time minus one minute; ``lifetime`` is Fulcio's 10 minutes.
    ``code_signing``, ``digital_signature`` and ``sct`` drop the codeSigning extended usage, the
    digitalSignature key usage or the embedded SCT, as a certificate outside Fulcio's profile would.
    """

    subject: str
    issuer: str
    not_before: dt.datetime | None = None
    lifetime: dt.timedelta = dt.timedelta(minutes=10)
    code_signing: bool = True
    digital_signature: bool = True
    sct: bool = True


@dataclass(frozen=True)
class Keyed:
    """Sign with a plain private key (cosign ``--key``)."""

    key: PrivateKey


@dataclass
class _Entry:
    body: bytes
    index: int
    integrated_time: int


@dataclass
class SigstoreInstanceDouble:
    """A test double of Fulcio + CT log + Rekor, deterministic per instance, never on the network."""

    origin: str = "rekor.double.invalid - 1"
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    intermediate_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    ct_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    rekor_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    entries: list[_Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
        end = dt.datetime(2040, 1, 1, tzinfo=dt.timezone.utc)
        root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gate-test"), x509.NameAttribute(NameOID.COMMON_NAME, "double-root")])
        inter_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gate-test"), x509.NameAttribute(NameOID.COMMON_NAME, "double-intermediate")])
        self.root = _ca_cert(root_name, self.root_key, root_name, self.root_key, start, end)
        self.intermediate = _ca_cert(inter_name, self.intermediate_key, root_name, self.root_key, start, end, path_length=0)

    # -- trust material ---------------------------------------------------------------------

    def trusted_root(self) -> dict[str, Any]:
        """This instance as a trusted-root document."""
        return trusted_root_document(
            ca_chains=[[self.intermediate, self.root]], tlog_keys=[self.rekor_key.public_key()], ct_keys=[self.ct_key.public_key()]
        )

    def trusted_root_json(self) -> bytes:
        """``trusted_root.json`` bytes."""
        return json.dumps(self.trusted_root()).encode()

    @property
    def log_id(self) -> bytes:
        """Rekor's log id: sha256 of its DER public key."""
        der = self.rekor_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).digest()

    # -- Fulcio -----------------------------------------------------------------------------

    def issue(self, signer: Keyless, at: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """A leaf key and certificate for ``signer`` with an embedded SCT dated ``at``."""
        key = ec.generate_private_key(ec.SECP256R1())
        not_before = signer.not_before or at - dt.timedelta(minutes=1)
        name = x509.UniformResourceIdentifier(signer.subject) if "://" in signer.subject else x509.RFC822Name(signer.subject)
        issuer_v2 = signer.issuer.encode()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + signer.lifetime)
            .add_extension(x509.KeyUsage(signer.digital_signature, not signer.digital_signature, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING if signer.code_signing else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()), critical=False)
            .add_extension(x509.SubjectAlternativeName([name]), critical=True)
            .add_extension(x509.UnrecognizedExtension(_ISSUER_V1, signer.issuer.encode()), critical=False)
            .add_extension(x509.UnrecognizedExtension(_ISSUER_V2, bytes([0x0C, len(issuer_v2)]) + issuer_v2), critical=False)
        )
        if not signer.sct:
            return key, builder.sign(self.intermediate_key, hashes.SHA256())
        precert = builder.sign(self.intermediate_key, hashes.SHA256())
        sct = self._sct(precert.tbs_certificate_bytes, at)
        cert = builder.add_extension(x509.UnrecognizedExtension(_SCT_LIST_OID, _der_octets(sct)), critical=False).sign(
            self.intermediate_key, hashes.SHA256()
        )
        return key, cert

    def _sct(self, tbs: bytes, at: dt.datetime) -> bytes:
        issuer_der = self.intermediate_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ct_der = self.ct_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        millis = int(at.timestamp() * 1000)
        entry = hashlib.sha256(issuer_der).digest() + len(tbs).to_bytes(3, "big") + tbs
        signed = struct.pack("!BBQH", 0, 0, millis, 1) + entry + struct.pack("!H", 0)
        signature = self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = bytes([0]) + hashlib.sha256(ct_der).digest() + struct.pack("!QH", millis, 0) + bytes([4, 3]) + struct.pack("!H", len(signature)) + signature
        serialized = struct.pack("!H", len(sct)) + sct
        return struct.pack("!H", len(serialized)) + serialized

    # -- Rekor ------------------------------------------------------------------------------

    def append(self, body: dict[str, Any], at: dt.datetime) -> _Entry:
        """Add an entry (canonical JSON body) to the log at time ``at``."""
        entry = _Entry(body=rfc8785.dumps(body), index=len(self.entries), integrated_time=int(at.timestamp()))
        self.entries.append(entry)
        return entry

    def set_for(self, entry: _Entry) -> bytes:
        """The signed entry timestamp for ``entry``."""
        canonical = rfc8785.dumps(
            {"body": b64(entry.body), "integratedTime": entry.integrated_time, "logID": self.log_id.hex(), "logIndex": entry.index}
        )
        return self.rekor_key.sign(canonical, ec.ECDSA(hashes.SHA256()))

    def inclusion_proof(self, entry: _Entry) -> dict[str, Any]:
        """An RFC 6962 inclusion proof against the current tree, with a signed checkpoint."""
        leaves = [_leaf_hash(item.body) for item in self.entries]
        root = _tree_hash(leaves)
        note = f"{self.origin}\n{len(leaves)}\n{b64(root)}\n"
        signature = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        envelope = note + "\n" + f"\u2014 {self.origin.split()[0]} {b64(self.log_id[:4] + signature)}\n"
        return {
            "logIndex": str(entry.index),
            "rootHash": b64(root),
            "treeSize": str(len(leaves)),
            "hashes": [b64(node) for node in _path(entry.index, leaves)],
            "checkpoint": {"envelope": envelope},
        }

    def cosign_bundle_annotation(self, entry: _Entry) -> str:
        """cosign's ``dev.sigstore.cosign/bundle`` annotation for ``entry``."""
        payload = {"body": b64(entry.body), "integratedTime": entry.integrated_time, "logIndex": entry.index, "logID": self.log_id.hex()}
        return json.dumps({"SignedEntryTimestamp": b64(self.set_for(entry)), "Payload": payload})

    def bundle_entry(self, entry: _Entry, kind: str) -> dict[str, Any]:
        """The ``tlogEntries[]`` item of a bundle for ``entry``."""
        return {
            "logIndex": str(entry.index),
            "logId": {"keyId": b64(self.log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(entry.integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": b64(self.set_for(entry))},
            "inclusionProof": self.inclusion_proof(entry),
            "canonicalizedBody": b64(entry.body),
        }

    # -- signing in the three layouts -------------------------------------------------------

    def _material(self, signer: Keyless | Keyed, at: dt.datetime) -> tuple[PrivateKey, bytes, x509.Certificate | None]:
        if isinstance(signer, Keyed):
            return signer.key, pem_public(signer.key), None
        key, cert = self.issue(signer, at)
        return key, cert.public_bytes(serialization.Encoding.PEM), cert

    def _annotations(self, signature: bytes, verifier_pem: bytes, cert: x509.Certificate | None, entry: _Entry | None) -> dict[str, str]:
        annotations = {ANNOTATION_SIGNATURE: b64(signature)}
        if cert is not None:
            annotations[ANNOTATION_CERTIFICATE] = verifier_pem.decode()
            annotations[ANNOTATION_CHAIN] = (self.intermediate.public_bytes(serialization.Encoding.PEM) + self.root.public_bytes(serialization.Encoding.PEM)).decode()
        if entry is not None:
            annotations[ANNOTATION_BUNDLE] = self.cosign_bundle_annotation(entry)
        return annotations

    def sign_legacy(self, payload: bytes, signer: Keyless | Keyed, at: dt.datetime, *, tlog: bool = True, log_time: dt.datetime | None = None) -> StoredLayer:
        """A cosign ``.sig`` layer over ``payload`` (see :func:`simple_signing`)."""
        key, verifier_pem, cert = self._material(signer, at)
        signature = sign_bytes(key, payload)
        entry = self.append(hashedrekord(payload, signature, verifier_pem), log_time or at) if tlog else None
        return StoredLayer(SIMPLE_SIGNING, self._annotations(signature, verifier_pem, cert, entry), payload, "double.sig")

    def attest_legacy(
        self, statement: dict[str, Any], signer: Keyless | Keyed, at: dt.datetime, *, tlog: bool = True, entry_kind: str = "intoto"
    ) -> StoredLayer:
        """A cosign ``.att`` layer: a DSSE envelope of ``statement`` plus annotations.

        ``entry_kind``: ``intoto`` (0.0.2, what ``cosign attest`` logs) or ``dsse`` (0.0.1).
        """
        key, verifier_pem, cert = self._material(signer, at)
        payload = json.dumps(statement).encode()
        signature = sign_bytes(key, pae(IN_TOTO, payload))
        envelope = {"payloadType": IN_TOTO, "payload": b64(payload), "signatures": [{"keyid": "", "sig": b64(signature)}]}
        body = intoto_body(envelope, payload, signature, verifier_pem) if entry_kind == "intoto" else dsse_body(payload, signature, verifier_pem)
        entry = self.append(body, at) if tlog else None
        annotations = self._annotations(signature, verifier_pem, cert, entry)
        annotations[ANNOTATION_SIGNATURE] = ""
        return StoredLayer(DSSE_ENVELOPE, annotations, json.dumps(envelope).encode(), "double.att")

    def bundle(self, statement: dict[str, Any], signer: Keyless | Keyed, at: dt.datetime, *, tlog: bool = True, log_time: dt.datetime | None = None) -> bytes:
        """A Sigstore bundle v0.3 holding a DSSE envelope of ``statement`` (cosign v3's layout)."""
        key, verifier_pem, cert = self._material(signer, at)
        payload = json.dumps(statement).encode()
        signature = sign_bytes(key, pae(IN_TOTO, payload))
        material: dict[str, Any] = {"tlogEntries": []}
        if cert is not None:
            material["certificate"] = {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))}
        else:
            material["publicKey"] = {"hint": b64(hashlib.sha256(_spki(key)).digest())}
        if tlog:
            material["tlogEntries"].append(self.bundle_entry(self.append(dsse_body(payload, signature, verifier_pem), log_time or at), "dsse"))
        document = {
            "mediaType": BUNDLE_V03,
            "verificationMaterial": material,
            "dsseEnvelope": {"payload": b64(payload), "payloadType": IN_TOTO, "signatures": [{"sig": b64(signature)}]},
        }
        return json.dumps(document).encode()


def simple_signing(image_digest: str, reference: str = "127.0.0.1:5000/shop/api") -> bytes:
    """cosign's simple-signing payload for ``image_digest``."""
    document = {
        "critical": {"identity": {"docker-reference": reference}, "image": {"docker-manifest-digest": image_digest}, "type": "cosign container image signature"},
        "optional": None,
    }
    return json.dumps(document).encode()


def statement(subject_digest: str, predicate_type: str = COSIGN_SIGN_PREDICATE, predicate: dict | None = None) -> dict[str, Any]:
    """An in-toto v1 statement about ``subject_digest`` (default: cosign v3's image signature)."""
    algorithm, _, value = subject_digest.partition(":")
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "image", "digest": {algorithm: value}}],
        "predicateType": predicate_type,
        "predicate": predicate or {},
    }


def hashedrekord(payload: bytes, signature: bytes, verifier_pem: bytes) -> dict[str, Any]:
    """A Rekor ``hashedrekord`` 0.0.1 body."""
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(verifier_pem)}},
        },
    }


def dsse_body(payload: bytes, signature: bytes, verifier_pem: bytes) -> dict[str, Any]:
    """A Rekor ``dsse`` 0.0.1 body."""
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(payload + signature).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": b64(signature), "verifier": b64(verifier_pem)}],
        },
    }


def intoto_body(envelope: dict[str, Any], payload: bytes, signature: bytes, verifier_pem: bytes) -> dict[str, Any]:
    """A Rekor ``intoto`` 0.0.2 body (signature and key base64-encoded once more, as Rekor stores them)."""
    return {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payloadType": envelope["payloadType"],
                    "signatures": [{"sig": b64(b64(signature).encode()), "publicKey": b64(verifier_pem)}],
                },
                "hash": {"algorithm": "sha256", "value": hashlib.sha256(json.dumps(envelope).encode()).hexdigest()},
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            }
        },
    }


def _spki(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _ca_cert(subject, key, issuer, issuer_key, start, end, path_length=None) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_key is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA384())


def _der_octets(data: bytes) -> bytes:
    length = len(data)
    if length < 0x80:
        return bytes([0x04, length]) + data
    size = (length.bit_length() + 7) // 8
    return bytes([0x04, 0x80 | size]) + length.to_bytes(size, "big") + data


def _leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    return 1 << ((size - 1).bit_length() - 1)


def _tree_hash(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node_hash(_tree_hash(leaves[:k]), _tree_hash(leaves[k:]))


def _path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]), bottom-up."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return _path(index, leaves[:k]) + [_tree_hash(leaves[k:])]
    return _path(index - k, leaves[k:]) + [_tree_hash(leaves[:k])]
