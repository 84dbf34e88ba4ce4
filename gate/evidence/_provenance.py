"""SLSA provenance v0.2 and v1 (BuildKit's and generic builders' such as GitHub's generator).

Both versions normalise to one :class:`Provenance`: who built (builder id, build type), from what
(materials / resolvedDependencies), with which build arguments and secret ids, when, and BuildKit's
copy of the Dockerfile when the build recorded it (``mode=max`` or an inline source).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from gate.errors import EvidenceError
from gate.evidence import _json
from gate.evidence._intoto import Statement, Subject

SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
# SLSA v1 only puts the major version in the URL, but drafts and generators wrote "v1.0".
SLSA_V1_ALIASES = (SLSA_V1, "https://slsa.dev/provenance/v1.0")
PROVENANCE_TYPES = (SLSA_V02, *SLSA_V1_ALIASES)
BUILDKIT_METADATA_V02 = "https://mobyproject.org/buildkit@v1#metadata"
BUILD_ARG_PREFIX = "build-arg:"


@dataclass(frozen=True)
class Material:
    """One input of the build: its URI and the digest it resolved to (``"sha256:<hex>"``)."""

    uri: str
    digest: str | None


@dataclass(frozen=True)
class Provenance:
    """Facts from one SLSA provenance statement; see the module docstring."""

    predicate_type: str
    subjects: tuple[Subject, ...]
    builder_id: str | None
    build_type: str | None
    materials: tuple[Material, ...]
    build_args: Mapping[str, str]
    secret_ids: tuple[str, ...]
    started_ns: int | None
    finished_ns: int | None
    dockerfile: str | None

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = _json.MAX_DOCUMENT_BYTES) -> Provenance:
        """Parse a statement (bare, DSSE or bundle) that must carry SLSA provenance.

        Raises:
            EvidenceError: malformed, or the predicate is not SLSA provenance v0.2/v1.
        """
        return cls.from_statement(Statement.from_bytes(data, what="provenance", max_bytes=max_bytes))

    @classmethod
    def from_statement(cls, statement: Statement) -> Provenance:
        """Read the predicate of an already parsed statement.

        Raises:
            EvidenceError: the predicate type is not provenance, or its shape does not match it.
        """
        predicate = dict(statement.predicate)
        if statement.predicate_type == SLSA_V02:
            return _from_v02(statement, predicate)
        if statement.predicate_type in SLSA_V1_ALIASES:
            return _from_v1(statement, predicate)
        raise EvidenceError(f"predicateType {statement.predicate_type!r} is not SLSA provenance")


def _from_v02(statement: Statement, predicate: dict[str, Any]) -> Provenance:
    what = "provenance(v0.2).predicate"
    if "buildDefinition" in predicate or "builder" not in predicate:
        raise EvidenceError(f"{what} does not have the SLSA v0.2 shape (no `builder`)")
    invocation = _json.opt_obj(predicate, "invocation", what)
    parameters = _json.opt_obj(invocation, "parameters", f"{what}.invocation")
    config_source = _json.opt_obj(invocation, "configSource", f"{what}.invocation")
    metadata = _json.opt_obj(predicate, "metadata", what)
    buildkit = _json.opt_obj(metadata, BUILDKIT_METADATA_V02, f"{what}.metadata")
    return Provenance(
        predicate_type=statement.predicate_type,
        subjects=statement.subjects,
        builder_id=_json.opt_str(_json.opt_obj(predicate, "builder", what), "id", f"{what}.builder"),
        build_type=_json.opt_str(predicate, "buildType", what),
        materials=_materials(predicate, "materials", what),
        build_args=_build_args(parameters, f"{what}.invocation.parameters"),
        secret_ids=_secret_ids(parameters, f"{what}.invocation.parameters"),
        started_ns=_json.timestamp_ns(metadata, "buildStartedOn", f"{what}.metadata"),
        finished_ns=_json.timestamp_ns(metadata, "buildFinishedOn", f"{what}.metadata"),
        dockerfile=_dockerfile(buildkit, _json.opt_str(config_source, "entryPoint", what), f"{what}.metadata"),
    )


def _from_v1(statement: Statement, predicate: dict[str, Any]) -> Provenance:
    what = "provenance(v1).predicate"
    if "buildDefinition" not in predicate:
        raise EvidenceError(f"{what} does not have the SLSA v1 shape (no `buildDefinition`)")
    definition = _json.opt_obj(predicate, "buildDefinition", what)
    external = _json.opt_obj(definition, "externalParameters", f"{what}.buildDefinition")
    request = _json.opt_obj(external, "request", f"{what}.buildDefinition.externalParameters")
    config_source = _json.opt_obj(external, "configSource", f"{what}.buildDefinition.externalParameters")
    run = _json.opt_obj(predicate, "runDetails", what)
    metadata = _json.opt_obj(run, "metadata", f"{what}.runDetails")
    buildkit = _json.opt_obj(metadata, "buildkit_metadata", f"{what}.runDetails.metadata")
    return Provenance(
        predicate_type=statement.predicate_type,
        subjects=statement.subjects,
        builder_id=_json.opt_str(_json.opt_obj(run, "builder", f"{what}.runDetails"), "id", f"{what}.runDetails.builder"),
        build_type=_json.opt_str(definition, "buildType", f"{what}.buildDefinition"),
        materials=_materials(definition, "resolvedDependencies", f"{what}.buildDefinition"),
        build_args=_build_args(request, f"{what}.buildDefinition.externalParameters.request"),
        secret_ids=_secret_ids(request, f"{what}.buildDefinition.externalParameters.request"),
        started_ns=_json.timestamp_ns(metadata, "startedOn", f"{what}.runDetails.metadata"),
        finished_ns=_json.timestamp_ns(metadata, "finishedOn", f"{what}.runDetails.metadata"),
        dockerfile=_dockerfile(buildkit, _json.opt_str(config_source, "path", what), f"{what}.runDetails.metadata.buildkit_metadata"),
    )


def _materials(parent: dict[str, Any], key: str, what: str) -> tuple[Material, ...]:
    materials = []
    for index, entry in enumerate(_json.opt_list(parent, key, what)):
        entry = _json.obj(entry, f"{what}.{key}[{index}]")
        uri = _json.opt_str(entry, "uri", f"{what}.{key}[{index}]") or _json.opt_str(entry, "name", f"{what}.{key}[{index}]")
        if uri is None:
            continue  # a dependency known only by content/digest has nothing to match a FROM against
        digests = _json.opt_obj(entry, "digest", f"{what}.{key}[{index}]")
        materials.append(Material(uri, _preferred_digest(digests)))
    return tuple(materials)


def _preferred_digest(digests: dict[str, Any]) -> str | None:
    if isinstance(digests.get("sha256"), str):
        return f"sha256:{digests['sha256']}"
    for algorithm, value in sorted(digests.items()):
        if isinstance(value, str) and value:
            return f"{algorithm}:{value}"
    return None


def _build_args(parameters: dict[str, Any], what: str) -> Mapping[str, str]:
    args = _json.opt_obj(parameters, "args", what)
    found = {
        key[len(BUILD_ARG_PREFIX) :]: value
        for key, value in args.items()
        if isinstance(key, str) and key.startswith(BUILD_ARG_PREFIX) and isinstance(value, str)
    }
    return MappingProxyType(found)


def _secret_ids(parameters: dict[str, Any], what: str) -> tuple[str, ...]:
    ids = []
    for index, entry in enumerate(_json.opt_list(parameters, "secrets", what)):
        secret_id = _json.opt_str(_json.obj(entry, f"{what}.secrets[{index}]"), "id", f"{what}.secrets[{index}]")
        if secret_id is not None:
            ids.append(secret_id)
    return tuple(ids)


def _dockerfile(buildkit: dict[str, Any], entry_point: str | None, what: str) -> str | None:
    """The Dockerfile text BuildKit embedded (base64 ``source.infos[].data``), preferring the entry point."""
    infos = [
        _json.obj(info, f"{what}.source.infos[{i}]")
        for i, info in enumerate(_json.opt_list(_json.opt_obj(buildkit, "source", what), "infos", f"{what}.source"))
    ]
    with_data = [info for info in infos if _json.opt_str(info, "data", f"{what}.source.infos[]")]
    if not with_data:
        return None
    chosen = next((info for info in with_data if info.get("filename") == (entry_point or "Dockerfile")), with_data[0])
    raw = _json.b64(chosen["data"], f"{what}.source.infos[].data")
    return raw.decode("utf-8", errors="replace")
