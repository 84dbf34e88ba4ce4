"""The OCI registry client: reference to digest, auth, size-capped and digest-checked content.

Trust rule: nothing leaves this client unverified. Manifests fetched by digest must hash to it;
manifests fetched by tag are hashed and a ``Docker-Content-Digest`` header that disagrees is
treated as a lying registry. Blobs are hashed while they stream. Every read has a cap from
``config.limits``. Only :class:`gate.errors.GateError` subclasses leave this package.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn, TypeVar, overload

import httpx

from gate.config import Config
from gate.errors import EvidenceError, GateError, RegistryError
from gate.registry._auth import Authenticator
from gate.registry._credentials import CredentialStore
from gate.registry._digest import algorithm_of, compute, digest_problem, matches
from gate.registry._errors import details, push_refused, status_error
from gate.registry._models import ACCEPT, OCI_INDEX, OCI_MANIFEST, Descriptor, Manifest, unsupported_type_problem
from gate.registry._reference import Reference
from gate.registry._stream import _TAMPERED, BlobChunks, BlobStream
from gate.registry._transport import Transport, too_large

_ERROR_BODY_BYTES = 64 * 1024
OCI_EMPTY = "application/vnd.oci.empty.v1+json"  # image-spec 1.1: the config of an artifact that needs none
EMPTY_JSON = b"{}"
_MAX_REFERRER_PAGES = 64
NO_REFERRERS_API_TTL = 600.0  # seconds a registry without the referrers API is not asked again
PULL_SECRET_VIEWS = 256  # credential sets whose tokens are kept
T = TypeVar("T")


class RegistryClient:
    """Talks to OCI registries for one gate process; one pooled ``httpx.AsyncClient`` inside.

    Args:
        config: limits, insecure hosts and the docker config path come from here.
        credentials: extra credentials (e.g. a workload's imagePullSecrets) that win over
            ``registries.docker_config``.
        ca_file: an extra PEM CA bundle trusted beside the system store (private registries).

    Raises:
        ConfigError: ``registries.docker_config`` cannot be read or is malformed.
    """

    def __init__(self, config: Config, *, credentials: CredentialStore | None = None, ca_file: Path | None = None):
        path = config.registries.docker_config
        self._from_file = CredentialStore.from_file(path, helpers=config.registries.credential_helpers) if path else CredentialStore()
        self._limits = config.limits
        self._transport = Transport(config, ca_file)
        self._owns_transport = True
        self._auth = Authenticator(self._transport, (credentials or CredentialStore()).chain(self._from_file))
        self._no_referrers_api: dict[str, float] = {}  # registry -> monotonic time it answered 404/405
        self._referrers_api_seen: set[str] = set()  # registries whose referrers API answered
        self._referrers_probes: dict[str, asyncio.Lock] = {}  # held by the first referrers request to a registry
        self._read: _ReadOnce | None = None  # set on an evaluation's view (see :meth:`reading_once`)
        self._pull_secret_views: OrderedDict[bytes, RegistryClient] = OrderedDict()  # shared by every view

    def with_credentials(self, credentials: CredentialStore) -> "RegistryClient":
        """A client sharing this one's connection pool (and counters) that tries ``credentials``
        (e.g. a workload's imagePullSecrets) before ``registries.docker_config``. Closing it
        leaves the pool open; close the original."""
        view = copy.copy(self)  # shares transport, limits and what was learnt about registries
        view._owns_transport = False
        view._auth = Authenticator(self._transport, credentials.chain(self._from_file), self._auth.schemes)
        view._read = None  # what another credential set read proves nothing about this one's access
        return view

    def with_pull_secrets(self, document: bytes) -> "RegistryClient":
        """:meth:`with_credentials` for a docker ``config.json`` merged from a workload's
        imagePullSecrets, kept per document (the last ``PULL_SECRET_VIEWS``): the workloads of a
        namespace share their secrets, and a kept view reuses the tokens they were given instead
        of asking the token server again on every check.

        Raises:
            ConfigError: the document is not JSON or an entry is malformed.
        """
        key = hashlib.sha256(document).digest()
        view = self._pull_secret_views.get(key)
        if view is None:
            view = self.with_credentials(CredentialStore.from_docker_config(document, source="imagePullSecrets"))
            self._pull_secret_views[key] = view
            while len(self._pull_secret_views) > PULL_SECRET_VIEWS:
                self._pull_secret_views.popitem(last=False)
        self._pull_secret_views.move_to_end(key)
        return view

    def reading_once(self) -> "RegistryClient":
        """A view of this client, for one evaluation, that reads each manifest by digest, each
        small blob and each referrers listing once, however many parts of the evaluation ask (index
        selection and evidence discovery both read an index's attestation manifests; a summary
        lookup and discovery both list the image's referrers). Content by digest cannot change, and the
        view's credentials are this client's, so what one part read is what the other would
        have. A failed read is not kept: the next caller asks the registry again."""
        view = copy.copy(self)
        view._owns_transport = False
        view._read = _ReadOnce()
        return view

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (token requests and redirect hops included)."""
        return self._transport.request_count

    @property
    def status_counts(self) -> dict[int | str, int]:
        """Responses by HTTP status so far, plus ``"error"`` for requests that got no response."""
        return dict(self._transport.status_counts)

    async def __aenter__(self) -> "RegistryClient":
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_transport:
            await self._transport.aclose()

    async def resolve(self, ref: Reference) -> Descriptor:
        """The descriptor (digest, media type, size) ``ref`` points at, by HEAD; GET when HEAD
        does not say the digest. A HEAD digest is the registry's word; fetch by it to verify.

        Raises:
            RegistryError: not found, auth, network, or a digest that contradicts ``ref``.
            EvidenceError: an unsupported manifest media type.
            LimitExceeded: the manifest is larger than ``limits.manifest_bytes``.
        """
        response = await self._request(ref, "HEAD", self._url(ref, f"manifests/{ref.identifier}"), accept=ACCEPT)
        await response.aclose()
        if response.status_code == 405:  # HEAD not allowed: GET tells us everything
            return (await self.manifest(ref)).descriptor
        if response.status_code != 200:
            await self._raise_status(ref, response, "manifest")
        digest, media_type = response.headers.get("docker-content-digest"), response.headers.get("content-type", "")
        length = response.headers.get("content-length", "")
        if not digest or not length.isdigit() or unsupported_type_problem(media_type):
            return (await self.manifest(ref)).descriptor
        if digest_problem(digest) or (ref.digest and digest != ref.digest):
            raise _lied(ref, f"answered HEAD with Docker-Content-Digest {digest!r}")
        if int(length) > self._limits.manifest_bytes:
            raise too_large(ref, "manifest", self._limits.manifest_bytes, int(length))
        return Descriptor(media_type.split(";")[0].strip(), digest, int(length))

    async def manifest(self, ref: Reference) -> Manifest:
        """The manifest or index ``ref`` names, its bytes verified against its digest.

        Raises:
            RegistryError: not found, auth, network, or bytes that do not match the digest.
            EvidenceError: not JSON, schema 1, or an unknown media type.
            LimitExceeded: larger than ``limits.manifest_bytes``.
        """
        if self._read is not None and ref.digest is not None:
            return await self._read.once(("manifest", ref.registry, ref.repository, ref.digest), lambda: self._manifest(ref, missing_ok=False))
        return await self._manifest(ref, missing_ok=False)

    async def tag_manifest(self, ref: Reference, tag: str) -> Manifest | None:
        """The manifest under ``tag`` in ``ref``'s repository (cosign ``sha256-<hex>.sig``/``.att``/``.sbom``), or None when that tag does not exist.

        Raises:
            as :meth:`manifest`, except that 404 gives None.
        """
        return await self._manifest(ref.with_tag(tag), missing_ok=True)

    async def blob(self, ref: Reference, descriptor_or_digest: Descriptor | str, max_bytes: int | None = None) -> bytes:
        """A whole (small) blob in memory, verified; capped at ``max_bytes`` or ``limits.blob_bytes``.

        Raises:
            RegistryError: not found, auth, network, size or digest mismatch.
            LimitExceeded: the blob is larger than the cap.
        """
        cap = max_bytes or self._limits.blob_bytes
        if self._read is not None:
            size = descriptor_or_digest.size if isinstance(descriptor_or_digest, Descriptor) else None
            digest = descriptor_or_digest.digest if isinstance(descriptor_or_digest, Descriptor) else descriptor_or_digest
            return await self._read.once(("blob", ref.registry, ref.repository, digest, size, cap), lambda: self._blob(ref, descriptor_or_digest, cap))
        return await self._blob(ref, descriptor_or_digest, cap)

    async def _blob(self, ref: Reference, descriptor_or_digest: Descriptor | str, cap: int) -> bytes:
        async with self.stream_blob(ref, descriptor_or_digest, max_bytes=cap) as chunks:
            return b"".join([chunk async for chunk in chunks])

    @asynccontextmanager
    async def stream_blob(self, ref: Reference, descriptor: Descriptor | str, max_bytes: int | None = None) -> AsyncIterator[BlobStream]:
        """Stream a blob in chunks; capped at ``max_bytes`` or ``limits.layer_bytes``.

        The digest is checked when the iterator ends; leaving the block normally drains and
        checks whatever was not read, so a clean exit always means verified bytes.

        Raises:
            RegistryError: not found, auth, network, size or digest mismatch.
            LimitExceeded: the blob is larger than the cap.
        """
        digest, size, cap = self._blob_bounds(ref, descriptor, max_bytes)
        what = f"blob {digest}"
        response = await self._request(ref, "GET", self._url(ref, f"blobs/{digest}"), follow_redirects=True)
        try:
            if response.status_code != 200:
                await self._raise_status(ref, response, what)
            chunks = self._transport.iter_capped(ref, response, cap, what)
            stream = BlobStream(chunks, ref, digest, size)
            yield stream
            await stream.drain()
        finally:
            await response.aclose()

    async def read_blob(self, ref: Reference, descriptor: Descriptor, consume: Callable[[Iterator[bytes]], T]) -> T:
        """``consume(chunks)`` of a (large) blob, run in a worker thread that also reads the blob
        from the network by blocking calls, so fetching, hashing and consuming one blob cost no
        hand-off through the event loop per chunk and several blobs use several cores.

        The chunks are what :meth:`stream_blob` yields (capped at ``limits.layer_bytes``); what
        ``consume`` leaves is read and hashed too, and its result is returned only when the blob
        matched its digest and size. Cancelling the call stops the thread at its next chunk.

        Raises:
            RegistryError: not found, auth, network, size or digest mismatch.
            LimitExceeded: the blob is larger than the cap.
            whatever ``consume`` raises.
        """
        digest, size, cap = self._blob_bounds(ref, descriptor, None)
        scope = f"repository:{ref.repository}:pull"
        sent = await self._auth.headers(ref, scope)
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def read() -> T:
            url, what = self._url(ref, f"blobs/{digest}"), f"blob {digest}"
            response = self._transport.send_blocking(ref, url, sent, loop)
            if response.status_code == 401:
                # Closed before the token request, which may need this host's slot it holds.
                body = self._error_body_blocking(ref, response, what)
                challenge = response.headers.get("www-authenticate", "")
                retry = asyncio.run_coroutine_threadsafe(self._auth.answer(ref, challenge, scope, sent), loop).result()
                if retry is None:
                    raise status_error(ref, 401, what, body, self._limits.retries)
                response = self._transport.send_blocking(ref, url, retry, loop)
            try:
                if response.status_code != 200:
                    raise status_error(ref, response.status_code, what, self._error_body_blocking(ref, response, what), self._limits.retries)
                chunks = BlobChunks(_until(stop, self._transport.iter_capped_blocking(ref, response, cap, what)), ref, digest, size)
                result = consume(iter(chunks))
                chunks.drain()
                return result
            finally:
                response.close()

        try:
            return await asyncio.to_thread(read)
        except asyncio.CancelledError:
            stop.set()
            raise

    def _blob_bounds(self, ref: Reference, descriptor: Descriptor | str, max_bytes: int | None) -> tuple[str, int | None, int]:
        """Digest, declared size and byte cap of a blob to fetch; refuses a bad digest or a declared size past the cap."""
        digest, size = (descriptor.digest, descriptor.size) if isinstance(descriptor, Descriptor) else (descriptor, None)
        if digest_problem(digest):
            raise EvidenceError(f"cannot fetch blob of {ref}: {digest_problem(digest)}", details=details(ref))
        cap = max_bytes or self._limits.layer_bytes
        if size is not None and size > cap:
            raise too_large(ref, f"blob {digest}", cap, size)
        return digest, size, cap

    async def referrers(self, ref: Reference, digest: str, artifact_type: str | None = None) -> list[Descriptor]:
        """Manifests whose ``subject`` is ``digest``: the referrers API, else the
        ``<alg>-<hex>`` tag-schema index (OCI distribution-spec 1.1); filtered by ``artifact_type``.

        The list is the registry's (or the publisher's) word; fetch each by digest to verify it.
        A registry that has no referrers API is remembered for ``NO_REFERRERS_API_TTL`` seconds,
        saving one request per subject. Until a registry has answered once, concurrent calls for
        it wait for the first one's answer instead of all probing (an index's subjects are listed
        at once).

        Raises:
            RegistryError, EvidenceError, LimitExceeded: as :meth:`manifest`.
        """
        if digest_problem(digest):
            raise EvidenceError(f"cannot list referrers of {ref}: {digest_problem(digest)}", details=details(ref))
        if self._read is not None:  # listed whole once; each caller filters
            found = await self._read.once(("referrers", ref.registry, ref.repository, digest), lambda: self._all_referrers(ref, digest, None))
        else:
            found = await self._all_referrers(ref, digest, artifact_type)
        return [d for d in found if artifact_type is None or d.artifact_type == artifact_type]

    async def _all_referrers(self, ref: Reference, digest: str, artifact_type: str | None) -> list[Descriptor]:
        """The referrers listing (the API's, asked to filter by ``artifact_type``), else the tag-schema index's entries."""
        found = await self._referrers_listing(ref, digest, artifact_type)
        if found is None:
            index = await self.tag_manifest(ref, _fallback_tag(digest))
            if index is not None and not index.is_index:
                raise EvidenceError(f"referrers tag {_fallback_tag(digest)} of {ref} is a {index.media_type}, not an index", details=details(ref))
            found = list(index.manifests) if index is not None else []
        return found

    async def push_blob(self, ref: Reference, data: bytes, media_type: str) -> Descriptor:
        """Store ``data`` in ``ref``'s repository (one monolithic upload; nothing sent when the
        registry already has it) and return its descriptor.

        Raises:
            RegistryError: the registry refused (auth, quota) or failed, or redirected the upload elsewhere.
        """
        descriptor = Descriptor(media_type, compute(data), len(data))
        what = f"blob {descriptor.digest}"
        known = await self._request(ref, "HEAD", self._url(ref, f"blobs/{descriptor.digest}"), push=True)
        await known.aclose()
        if known.status_code == 200:
            return descriptor
        started = await self._request(ref, "POST", self._url(ref, "blobs/uploads/"), push=True)
        await self._expect(ref, started, (202,), what)
        start_url = httpx.URL(self._url(ref, "blobs/uploads/"))
        location = self._same_host(ref, start_url, started.headers.get("location", ""), "sends the upload")
        upload = location.copy_merge_params({"digest": descriptor.digest})
        stored = await self._request(ref, "PUT", str(upload), push=True, content=data, content_type="application/octet-stream")
        await self._expect(ref, stored, (201,), what)
        return descriptor

    async def push_manifest(self, ref: Reference, raw: bytes, media_type: str, tag: str | None = None) -> tuple[Descriptor, bool]:
        """Store manifest bytes under ``tag`` (else under their own digest).

        Returns:
            The manifest's descriptor, and whether the registry took note of its ``subject``
            (the ``OCI-Subject`` header of distribution-spec 1.1).

        Raises:
            RegistryError: refused or failed; or the registry says it stored another digest.
        """
        descriptor = Descriptor(media_type, compute(raw), len(raw))
        stored = await self._request(
            ref, "PUT", self._url(ref, f"manifests/{tag or descriptor.digest}"), push=True, content=raw, content_type=media_type
        )
        await self._expect(ref, stored, (201,), f"manifest {descriptor.digest}")
        echoed = stored.headers.get("docker-content-digest")
        if echoed and echoed != descriptor.digest:
            raise _lied(ref, f"stored manifest {descriptor.digest} as {echoed!r}")
        return descriptor, "oci-subject" in stored.headers

    async def push_artifact(
        self, ref: Reference, subject: Descriptor, data: bytes, media_type: str, annotations: Mapping[str, str]
    ) -> Descriptor:
        """Attach ``data`` to ``subject`` as an OCI 1.1 artifact, the layout cosign v3 uses for
        bundles: ``artifactType`` the data's media type, the empty config, ``data`` as the one
        layer, ``subject``, ``annotations``; stored as :meth:`push_referrer` does.

        Raises:
            as :meth:`push_referrer`.
        """
        config = await self.push_blob(ref, EMPTY_JSON, OCI_EMPTY)
        layer = await self.push_blob(ref, data, media_type)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": media_type,
            "config": _descriptor_json(config),
            "layers": [_descriptor_json(layer)],
            "subject": _descriptor_json(Descriptor(subject.media_type, subject.digest, subject.size)),
            "annotations": dict(annotations),
        }
        return await self.push_referrer(ref, json.dumps(manifest, separators=(",", ":")).encode())

    async def push_referrer(self, ref: Reference, raw: bytes) -> Descriptor:
        """Store an OCI image manifest that has a ``subject`` so that :meth:`referrers` finds it:
        by the referrers API where the registry has one, else by adding it to the subject's
        ``<alg>-<hex>`` tag-schema index (distribution-spec 1.1), keeping what that index listed
        and the manifest's ``artifactType`` and annotations.

        Raises:
            RegistryError: as :meth:`push_manifest`; or the fallback tag holds something else than an index.
            EvidenceError, LimitExceeded: ``raw`` has no subject; the existing fallback index is malformed or too big.
        """
        manifest = Manifest.from_bytes(raw, compute(raw), OCI_MANIFEST, f"referrer to push to {ref}")
        if manifest.subject is None:
            raise EvidenceError(f"a referrer pushed to {ref} needs a subject", details=details(ref))
        _, noted = await self.push_manifest(ref, raw, OCI_MANIFEST)
        if noted:
            return manifest.descriptor
        tag = _fallback_tag(manifest.subject.digest)
        index = await self.tag_manifest(ref, tag)
        if index is not None and not index.is_index:
            raise RegistryError(f"referrers tag {tag} of {ref} holds a {index.media_type}, not an index; not overwriting it", details=details(ref))
        kept = [entry for entry in (index.json.get("manifests") or []) if entry.get("digest") != manifest.digest] if index else []
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*kept, _descriptor_json(manifest.descriptor)]}
        await self.push_manifest(ref, json.dumps(document, separators=(",", ":")).encode(), OCI_INDEX, tag=tag)
        return manifest.descriptor

    async def _expect(self, ref: Reference, response: httpx.Response, statuses: tuple[int, ...], what: str) -> None:
        """Close ``response``; raise the push error when its status is not one of ``statuses``."""
        if response.status_code in statuses:
            await response.aclose()
            return
        body = await self._error_body(ref, response, what)
        if response.status_code == 429 or response.status_code >= 500:
            raise status_error(ref, response.status_code, what, body, self._limits.retries)
        raise push_refused(ref, response.status_code, what, body)
    async def _referrers_listing(self, ref: Reference, digest: str, artifact_type: str | None) -> list[Descriptor] | None:
        """The referrers API's list, or None when the registry has no such API (learnt once per registry)."""
        if self._api_known_missing(ref):
            return None
        if ref.registry in self._referrers_api_seen:
            return await self._learn_referrers_api(ref, digest, artifact_type)
        async with self._referrers_probes.setdefault(ref.registry, asyncio.Lock()):
            return None if self._api_known_missing(ref) else await self._learn_referrers_api(ref, digest, artifact_type)

    async def _learn_referrers_api(self, ref: Reference, digest: str, artifact_type: str | None) -> list[Descriptor] | None:
        found = await self._referrers_api(ref, digest, artifact_type)
        if found is None:
            self._no_referrers_api[ref.registry] = time.monotonic()
            self._referrers_api_seen.discard(ref.registry)
        else:
            self._referrers_api_seen.add(ref.registry)
        return found

    def _api_known_missing(self, ref: Reference) -> bool:
        learnt = self._no_referrers_api.get(ref.registry)
        return learnt is not None and time.monotonic() - learnt < NO_REFERRERS_API_TTL

    async def _referrers_api(self, ref: Reference, digest: str, artifact_type: str | None) -> list[Descriptor] | None:
        """All pages of the referrers API, or None when the registry has no such API."""
        url = httpx.URL(self._url(ref, f"referrers/{digest}"), params={"artifactType": artifact_type} if artifact_type else None)
        found: list[Descriptor] = []
        for page in range(_MAX_REFERRER_PAGES):
            response = await self._request(ref, "GET", str(url), accept=OCI_INDEX)
            try:
                if page == 0 and response.status_code in (404, 405):
                    self._transport.expected_absence(response.status_code)
                    await self._error_body(ref, response, "referrers")  # read, so the connection is kept
                    return None  # no referrers API here (OCI distribution-spec 1.1: fall back to the tag schema)
                if page == 0 and response.status_code == 200 and not _is_index(response):
                    await self._error_body(ref, response, "referrers")
                    return None  # a catch-all page, not the API
                if response.status_code != 200:
                    await self._raise_status(ref, response, "referrers")
                if not _is_index(response):
                    raise EvidenceError(f"referrers page {page + 1} of {digest} in {ref} is not an OCI index", details=details(ref))
                raw = await self._transport.read_capped(ref, response, self._limits.manifest_bytes, "referrers list")
            finally:
                await response.aclose()
            index = Manifest.from_bytes(raw, compute(raw), response.headers.get("content-type"), f"referrers of {digest} in {ref}")
            found.extend(index.manifests)
            next_url = response.links.get("next", {}).get("url")
            if not next_url:
                return found
            url = self._same_host(ref, url, next_url)
        raise RegistryError(f"referrers of {digest} in {ref} run past {_MAX_REFERRER_PAGES} pages", remedy="prune old referrers", details=details(ref))

    def _same_host(self, ref: Reference, current: httpx.URL, link: str, what: str = "paginates referrers") -> httpx.URL:
        """``link`` resolved against ``current``; refused when it leaves the registry (our credentials would follow)."""
        target = current.join(link)
        if (target.scheme, target.netloc) != (current.scheme, current.netloc):
            raise RegistryError(f"registry {ref.registry} {what} of {ref} to another host {target.netloc.decode()}; refusing", details=details(ref))
        return target

    @overload
    async def _manifest(self, ref: Reference, *, missing_ok: Literal[False]) -> Manifest: ...
    @overload
    async def _manifest(self, ref: Reference, *, missing_ok: Literal[True]) -> Manifest | None: ...

    async def _manifest(self, ref: Reference, *, missing_ok: bool) -> Manifest | None:
        """The manifest at ``ref``; a 404 is None when ``missing_ok``, a RegistryError otherwise."""
        response = await self._request(ref, "GET", self._url(ref, f"manifests/{ref.identifier}"), accept=ACCEPT)
        try:
            if response.status_code == 404 and missing_ok:
                self._transport.expected_absence(404)
                await self._error_body(ref, response, "manifest")  # read, so the connection is kept for the next request
                return None
            if response.status_code != 200:
                await self._raise_status(ref, response, "manifest")
            raw = await self._transport.read_capped(ref, response, self._limits.manifest_bytes, "manifest")
        finally:
            await response.aclose()
        digest = _verified_digest(ref, raw, response.headers.get("docker-content-digest"))
        return Manifest.from_bytes(raw, digest, response.headers.get("content-type"), f"manifest {digest} of {ref}")

    def _url(self, ref: Reference, path: str) -> str:
        return f"{self._transport.base_url(ref.api_host)}/v2/{ref.repository}/{path}"

    async def _request(
        self,
        ref: Reference,
        method: str,
        url: str,
        *,
        accept: str | None = None,
        follow_redirects: bool = False,
        push: bool = False,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """Send with the registry's auth; on a 401 challenge, authenticate and send once more."""
        scope = f"repository:{ref.repository}:pull,push" if push else f"repository:{ref.repository}:pull"
        base = ({"Accept": accept} if accept else {}) | ({"Content-Type": content_type} if content_type else {})
        sent = await self._auth.headers(ref, scope)
        response = await self._transport.send(ref, method, url, base | sent, content=content, follow_redirects=follow_redirects)
        if response.status_code != 401:
            return response
        # Read and closed before the token request, which may need the host slot it holds.
        body = await self._error_body(ref, response, "an authentication challenge")
        retry = await self._auth.answer(ref, response.headers.get("www-authenticate", ""), scope, sent)
        if retry is None:
            return httpx.Response(response.status_code, headers=response.headers, content=body, request=response.request)
        return await self._transport.send(ref, method, url, base | retry, content=content, follow_redirects=follow_redirects)

    async def _raise_status(self, ref: Reference, response: httpx.Response, what: str) -> NoReturn:
        raise status_error(ref, response.status_code, what, await self._error_body(ref, response, what), self._limits.retries)

    async def _error_body(self, ref: Reference, response: httpx.Response, what: str) -> bytes:
        """The (capped) body of an error response, closing it; empty when it cannot be read.

        Reading it whole lets the connection go back to the pool: closing a response whose body
        was not read closes its connection, and the next request pays for a new one."""
        try:
            return await self._transport.read_capped(ref, response, _ERROR_BODY_BYTES, what)
        except GateError:
            return b""
        finally:
            await response.aclose()

    def _error_body_blocking(self, ref: Reference, response: httpx.Response, what: str) -> bytes:
        """:meth:`_error_body` of a response from ``send_blocking``."""
        try:
            return b"".join(self._transport.iter_capped_blocking(ref, response, _ERROR_BODY_BYTES, what))
        except GateError:
            return b""
        finally:
            response.close()


def _until(stop: threading.Event, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` until ``stop`` is set (the caller was cancelled): then the read ends with an error."""
    for chunk in chunks:
        if stop.is_set():
            raise RegistryError("blob read cancelled")
        yield chunk


class _ReadOnce:
    """What one evaluation's view has read, by key; concurrent askers of a key wait for the first."""

    def __init__(self) -> None:
        self._kept: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def once(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._kept:
                self._kept[key] = await read()
            kept: T = self._kept[key]
            return kept


def _verified_digest(ref: Reference, raw: bytes, header: str | None) -> str:
    """The digest of manifest bytes: ``ref.digest`` if they hash to it, else the header's or sha256's."""
    if ref.digest:
        actual = compute(raw, algorithm_of(ref.digest))
        if actual != ref.digest:
            raise RegistryError(f"digest mismatch: manifest of {ref} hashes to {actual}", remedy=_TAMPERED, details=details(ref, digest=ref.digest))
        return ref.digest
    if header is None:
        return compute(raw)
    if not matches(raw, header):
        raise _lied(ref, f"sent Docker-Content-Digest {header!r} for manifest bytes that hash to {compute(raw)}")
    return header


def _lied(ref: Reference, what: str) -> RegistryError:
    return RegistryError(f"registry lied: {ref.registry} {what} for {ref}", remedy=_TAMPERED, details=details(ref))


def _is_index(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip() == OCI_INDEX


def _descriptor_json(descriptor: Descriptor) -> dict[str, object]:
    """A referrers-index entry: the fields the referrers API returns (artifactType, annotations)."""
    entry: dict[str, object] = {"mediaType": descriptor.media_type, "digest": descriptor.digest, "size": descriptor.size}
    if descriptor.artifact_type:
        entry["artifactType"] = descriptor.artifact_type
    if descriptor.annotations:
        entry["annotations"] = dict(descriptor.annotations)
    return entry


def _fallback_tag(digest: str) -> str:
    """The referrers tag schema: ``<alg>-<ref>``, alg cut to 32 and ref to 64 characters."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm[:32]}-{hexpart[:64]}"
