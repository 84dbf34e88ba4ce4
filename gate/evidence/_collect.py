"""Parse what discovery found for one platform image into provenance, SBOM and scan models.

Each parsed model keeps the :class:`Artifact` it came from, so ``gate.verify`` (which checks the
DSSE envelopes and bundles) and ``facts.py`` can say whether it counts as verified. Anything that
does not parse, claims a predicate it does not hold, or is about another digest is an ignored and
reported :class:`Problem`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from gate.errors import EvidenceError, LimitExceeded
from gate.evidence import _json
from gate.evidence._discover import IN_TOTO, SBOM_MEDIA_TYPES, Artifact, AttachedEvidence, Problem, media_type_in
from gate.evidence._intoto import COSIGN_SIGN_PREDICATE, Statement
from gate.evidence._signatures import BUNDLE_MEDIA_TYPES, DSSE_ENVELOPE

if TYPE_CHECKING:
    from gate.evidence._provenance import Provenance
    from gate.evidence._sbom import Sbom
    from gate.evidence._vuln import VulnScan

_STATEMENT_MEDIA = frozenset({IN_TOTO, DSSE_ENVELOPE, *BUNDLE_MEDIA_TYPES})
_SBOM_MEDIA = frozenset(SBOM_MEDIA_TYPES)
# BuildKit annotates its in-toto layers, cosign its `.att` layers, with the predicate type inside.
PREDICATE_ANNOTATIONS = ("in-toto.io/predicate-type", "predicateType")

M = TypeVar("M")


@dataclass(frozen=True)
class Found(Generic[M]):
    """A parsed model and the artifact (store, subject, source) it was read from."""

    artifact: Artifact
    value: M


@dataclass(frozen=True)
class Evidence:
    """Provenance, SBOMs and vulnerability scans about one image, plus what was ignored and why."""

    provenance: tuple[Found[Provenance], ...]
    sboms: tuple[Found[Sbom], ...]
    vulns: tuple[Found[VulnScan], ...]
    other_predicates: tuple[str, ...]
    problems: tuple[Problem, ...]
    statements: tuple[Found[Statement], ...] = ()  # every attestation about the image, whatever its predicate


def collect(attached: AttachedEvidence, image_digest: str, index_digest: str | None = None) -> Evidence:
    """Parse the artifacts about ``image_digest`` (and its index, when judging one platform).

    A statement must name the digest its artifact hangs from as a subject: a BuildKit attestation
    about another platform, or a copied ``.att`` about another image, is ignored and reported.
    """
    digests = (image_digest, index_digest) if index_digest else (image_digest,)
    out = _Collector()
    for artifact in attached.about(*digests):
        try:
            out.add(artifact)
        except (EvidenceError, LimitExceeded) as exc:
            message = exc.message if exc.message.startswith(artifact.source) else f"{artifact.source}: {exc.message}"
            out.problems.append(Problem(artifact.source, f"{message}; ignored"))
    problems = (*attached.problems, *out.problems)
    return Evidence(tuple(out.provenance), tuple(out.sboms), tuple(out.vulns), tuple(out.other), problems, tuple(out.statements))


class _Collector:
    def __init__(self) -> None:
        self.provenance: list[Found[Provenance]] = []
        self.sboms: list[Found[Sbom]] = []
        self.vulns: list[Found[VulnScan]] = []
        self.other: list[str] = []
        self.problems: list[Problem] = []
        self.statements: list[Found[Statement]] = []

    def add(self, artifact: Artifact) -> None:
        """Route one artifact by media type, then by predicate type.

        Raises:
            EvidenceError, LimitExceeded: the artifact is malformed or about another digest.
        """
        from gate.evidence._provenance import PROVENANCE_TYPES, Provenance  # parsers load with the first artifact
        from gate.evidence._sbom import Sbom, is_sbom_predicate
        from gate.evidence._vuln import VULN_PREDICATE, VulnScan

        if media_type_in(artifact.media_type, _SBOM_MEDIA):
            self.sboms.append(Found(artifact, Sbom.from_bytes(artifact.data, what=artifact.source)))
            return
        if not media_type_in(artifact.media_type, _STATEMENT_MEDIA) or artifact.store == "cosign-sig":
            return
        statement = _statement(artifact)
        if statement is None or statement.predicate_type == COSIGN_SIGN_PREDICATE:
            return
        self.statements.append(Found(artifact, statement))
        if statement.predicate_type in PROVENANCE_TYPES:
            self.provenance.append(Found(artifact, Provenance.from_statement(statement)))
        elif is_sbom_predicate(statement.predicate_type):
            self.sboms.append(Found(artifact, Sbom.from_statement(statement)))
        elif statement.predicate_type == VULN_PREDICATE:
            self.vulns.append(Found(artifact, VulnScan.from_statement(statement)))
        else:
            self.other.append(statement.predicate_type)


def _statement(artifact: Artifact) -> Statement | None:
    """The statement inside an artifact; None for a bundle over a plain message signature.

    Raises:
        EvidenceError: malformed, its layer annotation declares another predicate type, or its
            subjects do not include the digest it hangs from.
    """
    document = _json.obj(_json.load(artifact.data, artifact.source), artifact.source)
    if media_type_in(artifact.media_type, BUNDLE_MEDIA_TYPES) and "messageSignature" in document:
        return None  # a signature over the image digest itself: gate.verify's business
    statement = Statement.from_json(document, what=artifact.source)
    declared = next((artifact.descriptor.annotations[k] for k in PREDICATE_ANNOTATIONS if k in artifact.descriptor.annotations), None)
    if declared is not None and declared != statement.predicate_type:
        raise EvidenceError(f"the layer declares predicate type {declared!r} but the statement holds {statement.predicate_type!r}")
    if not statement.covers(artifact.subject):
        names = ", ".join(f"{k}:{v}" for s in statement.subjects for k, v in s.digests.items())
        raise EvidenceError(f"statement is about {names}, not {artifact.subject} it is attached to")
    return statement
