"""Fulcio certificate extensions: gate reads them by the OIDs Fulcio documents (as the test double
writes them, from its own table), and keyless identities require them exactly."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from gate.config import FULCIO_EXTENSIONS, KeylessIdentity
from gate.verify._certs import FULCIO_EXTENSION_POLICIES, fulcio_extensions, identity_of
from tests.support.sigstore_double import FULCIO_OIDS, Keyless, SigstoreInstanceDouble

AT = dt.datetime(2026, 11, 26, 14, tzinfo=dt.UTC)


def test_gate_reads_the_extensions_fulcio_documents() -> None:
    assert list(FULCIO_EXTENSION_POLICIES) == list(FULCIO_EXTENSIONS) == list(FULCIO_OIDS)
    assert {name: policy.oid.dotted_string for name, policy in FULCIO_EXTENSION_POLICIES.items()} == {name: oid for name, (oid, _) in FULCIO_OIDS.items()}


def test_every_extension_is_read_from_a_certificate() -> None:
    values = tuple((name, f"value of {name}") for name in FULCIO_OIDS)
    _, cert = SigstoreInstanceDouble().issue(Keyless("ci@acme.example", "https://issuer.example", extensions=values), AT)
    identity = identity_of(cert)
    assert dict(identity.extensions) == dict(values)
    assert (identity.issuer, identity.subject) == ("https://issuer.example", "ci@acme.example")


def test_a_v2_extension_that_is_not_a_utf8string_is_left_out() -> None:
    double = SigstoreInstanceDouble()
    _, cert = double.issue(Keyless("ci@acme.example", "https://issuer.example"), AT)
    trigger = FULCIO_EXTENSION_POLICIES["build_trigger"].oid
    builder = x509.CertificateBuilder(
        issuer_name=cert.issuer, subject_name=cert.subject, public_key=cert.public_key(), serial_number=cert.serial_number,
        not_valid_before=cert.not_valid_before_utc, not_valid_after=cert.not_valid_after_utc,
        extensions=[*cert.extensions, x509.Extension(trigger, False, x509.UnrecognizedExtension(trigger, b"push"))],
    )
    forged = builder.sign(double.intermediate_key, hashes.SHA256())
    assert "build_trigger" not in dict(fulcio_extensions(forged))


def test_a_keyless_identity_requires_each_extension_exactly() -> None:
    wanted = KeylessIdentity(issuer_regex=r"https://token\.actions\..+", subject="s", extensions={"github_workflow_trigger": "push"})
    assert wanted.matches("https://token.actions.example", "s", {"github_workflow_trigger": "push", "github_workflow_ref": "refs/heads/x"})
    assert not wanted.matches("https://token.actions.example", "s", {"github_workflow_trigger": "pushed"})
    assert not wanted.matches("https://token.actions.example", "s", {})
    assert not wanted.matches("https://evil.example/token.actions.x", "s", {"github_workflow_trigger": "push"})
