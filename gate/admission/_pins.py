"""Tag binding: the JSONPatch that pins each image written by tag to the digest gate judged.

A validating webhook that judges ``shop/api:1.4`` as digest D1 does not bind what the node pulls:
the tag can be re-pushed before (or after) the Pod starts. ``POST /mutate`` rewrites the reference
to ``shop/api:1.4@sha256:D1``; the tag stays for people, the digest decides what is pulled (a
multi-arch index stays the index digest, so every node still gets its own platform). Pure
functions: no I/O.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from typing import Any

from gate.admission._review import review_response
from gate.admission._workloads import ImageUse
from gate.errors import ReferenceError  # noqa: A004 - gate's error for a string that is not an image reference
from gate.registry import Reference


@dataclass(frozen=True)
class Pin:
    """One image field rewritten: where (JSON pointer), what was written and what replaces it."""

    pointer: str
    image: str
    pinned: str


@functools.lru_cache(maxsize=4096)
def is_tag_only(image: str) -> bool:
    """True for a valid reference that names no digest (what a pin would change); remembered,
    as pod specs name the same images over and over."""
    try:
        return Reference.parse(image).digest is None
    except ReferenceError:
        return False  # the validating webhook reports it; nothing can be pinned


def pinned_reference(image: str, digest: str) -> str:
    """``image`` as written with ``@digest`` appended; an implicit ``latest`` is written out so
    the pinned reference still says which tag it came from."""
    last = image.rsplit("/", 1)[-1]
    return f"{image}@{digest}" if ":" in last else f"{image}:latest@{digest}"


def pins_for(uses: list[ImageUse], digests: dict[str, str]) -> list[Pin]:
    """A pin for every use whose image was resolved to a digest (``digests``: image -> digest)."""
    return [Pin(use.pointer, use.image, pinned_reference(use.image, digests[use.image])) for use in uses if use.pointer and use.image in digests]


def json_patch(pins: list[Pin]) -> list[dict[str, Any]]:
    """RFC 6902 ``replace`` operations, one per pinned field of the object the API server sent."""
    return [{"op": "replace", "path": pin.pointer, "value": pin.pinned} for pin in pins]


def mutation_response(uid: str, pins: list[Pin]) -> bytes:
    """The mutating webhook's AdmissionReview: always allowed (denying is the validating webhook's
    job), with the JSONPatch and an audit annotation of what was pinned when anything was."""
    if not pins:
        return review_response(uid, allowed=True)
    patch = base64.b64encode(json.dumps(json_patch(pins), separators=(",", ":")).encode()).decode()
    pinned = json.dumps({pin.image: pin.pinned for pin in pins}, separators=(",", ":"))
    return review_response(uid, allowed=True, annotations={"pinned": pinned}, patch=patch)
