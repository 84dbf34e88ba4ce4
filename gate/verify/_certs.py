"""Fulcio certificates outside a bundle: chain to the trusted CA at signing time, SCT, profile, identity.

Used for cosign's annotation layouts, which sigstore-python cannot take as a bundle. The steps are
sigstore-python's ``Verifier._verify_common_signing_cert`` (1)-(3), built from the same pieces:
cryptography's ``PolicyBuilder`` with the trusted root's Fulcio certificates as the store, and
``sigstore._internal.sct.verify_sct`` for the embedded SCT.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from cryptography.x509.verification import VerificationError as X509VerificationError
from sigstore._internal.sct import verify_sct
from sigstore.errors import Error as SigstoreError
from sigstore.verify import policy as sigstore_policy

from gate.errors import VerificationError
from gate.verify._keys import is_public_key
from gate.verify._trust import TrustPolicy

if TYPE_CHECKING:
    from gate.verify._keys import PublicKey

OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SAN_OTHERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")

# Fulcio's certificate extensions by the name configuration uses (``extensions:`` of a keyless
# identity). The OIDs come from sigstore-python's policies; .2-.6 hold raw UTF-8 (v1), .9-.22 a
# DER UTF8String (v2), as Fulcio's docs/oid-info.md specifies.
FULCIO_EXTENSION_POLICIES: dict[str, type[sigstore_policy._SingleX509ExtPolicy]] = {
    "github_workflow_trigger": sigstore_policy.GitHubWorkflowTrigger,
    "github_workflow_sha": sigstore_policy.GitHubWorkflowSHA,
    "github_workflow_name": sigstore_policy.GitHubWorkflowName,
    "github_workflow_repository": sigstore_policy.GitHubWorkflowRepository,
    "github_workflow_ref": sigstore_policy.GitHubWorkflowRef,
    "build_signer_uri": sigstore_policy.OIDCBuildSignerURI,
    "build_signer_digest": sigstore_policy.OIDCBuildSignerDigest,
    "runner_environment": sigstore_policy.OIDCRunnerEnvironment,
    "source_repository_uri": sigstore_policy.OIDCSourceRepositoryURI,
    "source_repository_digest": sigstore_policy.OIDCSourceRepositoryDigest,
    "source_repository_ref": sigstore_policy.OIDCSourceRepositoryRef,
    "source_repository_identifier": sigstore_policy.OIDCSourceRepositoryIdentifier,
    "source_repository_owner_uri": sigstore_policy.OIDCSourceRepositoryOwnerURI,
    "source_repository_owner_identifier": sigstore_policy.OIDCSourceRepositoryOwnerIdentifier,
    "build_config_uri": sigstore_policy.OIDCBuildConfigURI,
    "build_config_digest": sigstore_policy.OIDCBuildConfigDigest,
    "build_trigger": sigstore_policy.OIDCBuildTrigger,
    "run_invocation_uri": sigstore_policy.OIDCRunInvocationURI,
    "source_repository_visibility_at_signing": sigstore_policy.OIDCSourceRepositoryVisibility,
}


@dataclass(frozen=True)
class CertIdentity:
    """The OIDC issuer and SAN identity a Fulcio certificate was issued for, and its Fulcio extensions."""

    issuer: str
    subject: str
    extensions: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """``<issuer> <subject>``, the same form as a verified keyless signer."""
        return f"{self.issuer} {self.subject}"


def load_certificate(pem: bytes, what: str) -> x509.Certificate:
    """Raises VerificationError: not a PEM certificate."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise VerificationError(f"{what} is not a PEM certificate") from exc


def certificate_key(cert: x509.Certificate, what: str) -> PublicKey:
    """The certificate's public key, if it is a kind signatures can use.

    Raises:
        VerificationError: an unsupported or malformed key.
    """
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise VerificationError(f"{what} holds an unsupported or malformed public key") from exc
    if not is_public_key(key):
        raise VerificationError(f"{what} holds a {type(key).__name__}; signatures need ECDSA, RSA or Ed25519")
    return key


def load_chain(pem: bytes | None, what: str) -> list[x509.Certificate]:
    """Raises VerificationError: not a PEM certificate list."""
    if not pem:
        return []
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise VerificationError(f"{what} is not a PEM certificate chain") from exc


def identity_of(cert: x509.Certificate) -> CertIdentity:
    """Issuer (extension .1.8, else legacy .1.1) and first SAN (email, URI or Sigstore othername).

    Raises:
        VerificationError: the certificate names no issuer or no identity.
    """
    issuer = _issuer(cert)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise VerificationError("signing certificate has no SubjectAlternativeName identity") from exc
    names = [*sans.get_values_for_type(x509.RFC822Name), *sans.get_values_for_type(x509.UniformResourceIdentifier)]
    names += [other.value.decode(errors="replace") for other in sans.get_values_for_type(x509.OtherName) if other.type_id == SAN_OTHERNAME]
    if not names:
        raise VerificationError("signing certificate has no email, URI or Sigstore identity in its SAN")
    return CertIdentity(issuer=issuer, subject=names[0], extensions=fulcio_extensions(cert))


def fulcio_extensions(cert: x509.Certificate) -> tuple[tuple[str, str], ...]:
    """The Fulcio extensions the certificate carries, by configuration name; a v2 extension that is
    not a DER UTF8String is left out (so it can never satisfy a required value)."""
    found = []
    for name, policy in FULCIO_EXTENSION_POLICIES.items():
        try:
            extension = cert.extensions.get_extension_for_oid(policy.oid).value
        except x509.ExtensionNotFound:
            continue
        if not isinstance(extension, x509.UnrecognizedExtension):
            continue
        raw = extension.value
        if issubclass(policy, sigstore_policy._SingleX509ExtPolicyV2):
            try:
                found.append((name, _der_utf8(raw)))
            except VerificationError:
                continue
        else:
            found.append((name, raw.decode(errors="replace")))
    return tuple(found)


def _issuer(cert: x509.Certificate) -> str:
    for oid, der in ((OIDC_ISSUER_V2, True), (OIDC_ISSUER_V1, False)):
        try:
            extension = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        if not isinstance(extension, x509.UnrecognizedExtension):
            continue
        raw = extension.value
        return _der_utf8(raw) if der else raw.decode(errors="replace")
    raise VerificationError("signing certificate has no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)")


def _der_utf8(raw: bytes) -> str:
    # A DER UTF8String: tag 0x0C, then a short or long length.
    if len(raw) < 2 or raw[0] != 0x0C:
        raise VerificationError("OIDC issuer extension 1.3.6.1.4.1.57264.1.8 is not a UTF8String")
    length, offset = raw[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    return raw[offset : offset + length].decode(errors="replace")


def verify_fulcio_certificate(
    cert: x509.Certificate, intermediates: list[x509.Certificate], signed_at: dt.datetime, trust: TrustPolicy
) -> None:
    """Chain to a trusted Fulcio CA valid at ``signed_at``, verify the embedded SCT and the code-signing profile.

    Raises:
        VerificationError: which of the three failed.
    """
    chain = _chain_at(cert, intermediates, signed_at, trust)
    try:
        verify_sct(cert, chain, trust.ct_keyring)
    except (SigstoreError, ValueError) as exc:
        raise VerificationError(f"signing certificate's SCT does not verify against the trusted CT log: {exc}") from exc
    _check_profile(cert)


def _chain_at(cert: x509.Certificate, intermediates: list[x509.Certificate], at: dt.datetime, trust: TrustPolicy) -> list[x509.Certificate]:
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None)
    try:
        verifier = (
            PolicyBuilder()
            .store(Store(trust.fulcio_certificates))
            .time(at)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        return list(verifier.verify(cert, intermediates).chain[1:])
    except (X509VerificationError, x509.UnsupportedGeneralNameType, SigstoreError, ValueError) as exc:
        raise VerificationError(
            f"signing certificate does not chain to a trusted Fulcio CA at signing time {at.isoformat()}: {exc}"
        ) from exc


def _check_profile(cert: x509.Certificate) -> None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        extended = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise VerificationError("signing certificate lacks KeyUsage or ExtendedKeyUsage") from exc
    if not usage.digital_signature or ExtendedKeyUsageOID.CODE_SIGNING not in extended:
        raise VerificationError("signing certificate is not for code signing (digitalSignature + codeSigning)")


def check_validity(cert: x509.Certificate, at: dt.datetime, source: str) -> None:
    """The signing time (``source`` names where it came from) must be inside the certificate's validity.

    Raises:
        VerificationError: outside it.
    """
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise VerificationError(
            f"{source} {at.isoformat()} is outside the signing certificate's validity "
            f"({cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})"
        )
