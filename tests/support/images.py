"""Build container images in Python and push them to the fixture registries.

    img = ImageBuilder(platform="linux/amd64", media="oci")
    img.layer({"etc/passwd": "root:x:0:0::/root:/bin/sh\\n", "app/": Dir(), "bin/sh": Symlink("busybox"),
               "root/.npmrc": "//registry.npmjs.org/:_authToken=npm_x\\n"}, created_by="COPY . /app # buildkit")
    img.layer(whiteouts=["root/.npmrc"], created_by="RUN rm /root/.npmrc # buildkit")
    img.step("ENV APP=1")                                   # a history entry without a layer
    img.config(user="1000", env={"APP": "1"}, labels={"team": "shop"}, created="2026-01-01T00:00:00Z")
    pushed = img.push(registry, "shop/api:1.4")             # -> PushedImage
    index = push_index(registry, "shop/api:multi", [img, other], attestations={"linux/amd64": [statement]})

Media types follow the OCI image spec (``media="oci"``) or Docker image manifest v2 schema 2
(``media="docker"``). The config's ``rootfs.diff_ids`` and ``history`` are kept in step with the
layers unless a test overrides them to build a broken image on purpose.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.support.layers import Compression, Entry, Layer, Opaque, compress, tar_bytes
from tests.support.push import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    PushedManifest,
    PushTarget,
    canonical_json,
    client_for,
    sha256_digest,
)

Media = Literal["oci", "docker"]

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"

LAYER_MEDIA_TYPES: dict[tuple[Media, Compression], str] = {
    ("oci", "gzip"): "application/vnd.oci.image.layer.v1.tar+gzip",
    ("oci", "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
    ("oci", "none"): "application/vnd.oci.image.layer.v1.tar",
    ("docker", "gzip"): "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ("docker", "none"): "application/vnd.docker.image.rootfs.diff.tar",
}
MEDIA_TYPES: dict[Media, tuple[str, str, str]] = {
    "oci": (OCI_MANIFEST, OCI_CONFIG, OCI_INDEX),
    "docker": (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LIST),
}


def empty_descriptor(with_data: bool = True) -> dict[str, Any]:
    """The OCI 1.1 empty descriptor (``{}``), with the optional inline ``data`` field."""
    descriptor: dict[str, Any] = {"mediaType": OCI_EMPTY, "digest": sha256_digest(EMPTY_JSON), "size": 2}
    if with_data:
        descriptor["data"] = base64.b64encode(EMPTY_JSON).decode()
    return descriptor


def parse_platform(platform: str) -> dict[str, str]:
    """``linux/arm64/v8`` -> ``{"os": "linux", "architecture": "arm64", "variant": "v8"}``."""
    parts = platform.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"platform {platform!r} is not OS/ARCH[/VARIANT]")
    result = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        result["variant"] = parts[2]
    return result


def split_target(target: PushTarget, reference: str) -> tuple[str, str | None]:
    """``"shop/api:1.4"`` (optionally prefixed with the registry host) -> ``("shop/api", "1.4")``.

    ``"shop/api"`` alone means push by digest only (no tag).

    Raises:
        ValueError: the reference has a digest (pushes name a tag or nothing).
    """
    if "@" in reference:
        raise ValueError(f"push to a tag or a bare repository, not a digest reference: {reference!r}")
    reference = reference.removeprefix(f"{target.host}/")
    repository, _, tag = reference.rpartition(":") if ":" in reference else (reference, "", "")
    return repository, tag or None


@dataclass(frozen=True)
class PushedImage(PushedManifest):
    """An image manifest in a registry, with the digests of its config and layers."""

    config_digest: str = ""
    layer_digests: tuple[str, ...] = ()
    platform: dict[str, str] | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        return self.json


@dataclass(frozen=True)
class PushedIndex(PushedManifest):
    """An image index / manifest list, its platform images and the attestation manifests in it."""

    images: tuple[PushedImage, ...] = ()
    attestations: tuple[PushedManifest, ...] = ()

    @property
    def manifest(self) -> dict[str, Any]:
        return self.json


@dataclass
class ImageBuilder:
    """Collects layers, history and config; :meth:`push` builds and uploads everything."""

    platform: str = "linux/amd64"
    media: Media = "oci"
    layers: list[Layer] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    container_config: dict[str, Any] = field(default_factory=dict)
    created: str | None = "2026-01-01T00:00:00Z"
    extra_config: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    raw_config: bytes | None = None
    diff_ids_override: list[str] | None = None

    def layer(
        self,
        files: Mapping[str, Entry] | None = None,
        *,
        whiteouts: Iterable[str | Opaque] = (),
        compression: Compression = "gzip",
        created_by: str | None = None,
        media_type: str | None = None,
        tar: bytes | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> ImageBuilder:
        """Add a layer from a file map (or ready ``tar`` bytes) and its history entry.

        ``media_type`` overrides the one derived from ``media`` and ``compression`` (e.g. for a
        Docker image with a zstd layer, which Docker v2 has no type for).
        """
        raw = tar if tar is not None else tar_bytes(files or {}, whiteouts)
        media_type = media_type or LAYER_MEDIA_TYPES.get((self.media, compression))
        if media_type is None:
            raise ValueError(f"no {self.media} layer media type for {compression}; pass media_type=")
        layer = Layer(compress(raw, compression), sha256_digest(raw), media_type, compression, dict(annotations or {}))
        self.layers.append(layer)
        self.history.append(self._history_entry(created_by or f"layer {len(self.layers)}", empty_layer=False))
        return self

    def raw_layer(self, blob: bytes, media_type: str, diff_id: str, created_by: str = "raw layer") -> ImageBuilder:
        """Add blob bytes as they are (corrupt gzip, a non-tar, a wrong ``diff_id``) for hostile tests."""
        self.layers.append(Layer(blob, diff_id, media_type, "none"))
        self.history.append(self._history_entry(created_by, empty_layer=False))
        return self

    def step(self, created_by: str, **fields: Any) -> ImageBuilder:
        """Add a history entry with ``empty_layer: true`` (ENV, LABEL, USER... steps)."""
        self.history.append(self._history_entry(created_by, empty_layer=True, **fields))
        return self

    def _history_entry(self, created_by: str, empty_layer: bool, **fields: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"created": self.created, "created_by": created_by}
        if empty_layer:
            entry["empty_layer"] = True
        entry.update(fields)
        return {key: value for key, value in entry.items() if value is not None}

    def config(
        self,
        *,
        user: str | None = None,
        env: Mapping[str, str] | Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        created: str | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        entrypoint: Sequence[str] | None = None,
        cmd: Sequence[str] | None = None,
        workdir: str | None = None,
        diff_ids: Sequence[str] | None = None,
        extra: Mapping[str, Any] | None = None,
        raw: bytes | None = None,
    ) -> ImageBuilder:
        """Set image config fields. ``env`` as a mapping or ``KEY=VALUE`` strings (duplicates allowed).

        ``history`` and ``diff_ids`` replace the generated ones (for inconsistent-image tests),
        ``extra`` is merged at the top level of the config document, ``raw`` replaces the
        whole config blob with the given bytes.
        """
        fields = {"User": user, "Labels": dict(labels) if labels is not None else None, "WorkingDir": workdir}
        fields |= {"Entrypoint": list(entrypoint) if entrypoint is not None else None}
        fields |= {"Cmd": list(cmd) if cmd is not None else None}
        if env is not None:
            fields["Env"] = [f"{k}={v}" for k, v in env.items()] if isinstance(env, Mapping) else list(env)
        self.container_config.update({key: value for key, value in fields.items() if value is not None})
        if created is not None:
            self.created = created
        if history is not None:
            self.history = [dict(entry) for entry in history]
        if diff_ids is not None:
            self.diff_ids_override = list(diff_ids)
        self.extra_config.update(extra or {})
        if raw is not None:
            self.raw_config = raw
        return self

    def config_document(self) -> dict[str, Any]:
        """The image config as a mapping (what :meth:`config_bytes` serialises)."""
        document: dict[str, Any] = {"created": self.created} if self.created else {}
        document |= parse_platform(self.platform)
        document["config"] = dict(self.container_config)
        diff_ids = self.diff_ids_override if self.diff_ids_override is not None else [layer.diff_id for layer in self.layers]
        document["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        document["history"] = list(self.history)
        document.update(self.extra_config)
        return document

    def config_bytes(self) -> bytes:
        return self.raw_config if self.raw_config is not None else canonical_json(self.config_document())

    def manifest_document(self, config_digest: str, config_size: int) -> dict[str, Any]:
        manifest_type, config_type, _ = MEDIA_TYPES[self.media]
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
            "layers": [layer.descriptor() for layer in self.layers],
        }
        if self.annotations:
            manifest["annotations"] = dict(self.annotations)
        return manifest

    def push(self, target: PushTarget, reference: str) -> PushedImage:
        """Upload layers, config and manifest; ``reference`` is ``repo:tag`` or ``repo`` (digest only).

        Raises:
            PushError: the registry refused something.
        """
        repository, tag = split_target(target, reference)
        client = client_for(target)
        for layer in self.layers:
            client.push_blob(repository, layer.blob)
        config = self.config_bytes()
        config_digest = client.push_blob(repository, config)
        raw = canonical_json(self.manifest_document(config_digest, len(config)))
        media_type = MEDIA_TYPES[self.media][0]
        digest = client.push_manifest(repository, tag or sha256_digest(raw), raw, media_type)
        return PushedImage(
            host=target.host,
            repository=repository,
            digest=digest,
            media_type=media_type,
            raw=raw,
            tag=tag,
            config_digest=config_digest,
            layer_digests=tuple(layer.digest for layer in self.layers),
            platform=parse_platform(self.platform),
        )


def push_json_manifest(
    target: PushTarget, repository: str, document: Mapping[str, Any], tag: str | None = None
) -> PushedManifest:
    """Push a manifest mapping as compact JSON, Content-Type from its ``mediaType`` (OCI by default)."""
    raw = canonical_json(document)
    return push_raw_manifest(target, repository, raw, str(document.get("mediaType", OCI_MANIFEST)), tag)


def push_raw_manifest(
    target: PushTarget, repository: str, raw: bytes, media_type: str, tag: str | None = None
) -> PushedManifest:
    """Push manifest bytes exactly as given (for malformed-manifest tests); untagged without ``tag``."""
    digest = client_for(target).push_manifest(repository, tag or sha256_digest(raw), raw, media_type)
    return PushedManifest(host=target.host, repository=repository, digest=digest, media_type=media_type, raw=raw, tag=tag)
