"""Sign a pushed image with the SigstoreInstanceDouble as ``cosign sign`` stores it (a ``.sig`` tag)."""

from __future__ import annotations

import datetime as dt

from tests.support.artifacts import Blob, push_cosign_tag
from tests.support.push import PushedManifest, PushTarget
from tests.support.sigstore_double import Keyed, Keyless, SigstoreInstanceDouble, simple_signing


def sign_with_tag(target: PushTarget, image: PushedManifest, double: SigstoreInstanceDouble, signer: Keyed | Keyless) -> None:
    """Push a ``.sig`` tag holding one signature of ``image``'s digest, made just now."""
    at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    layer = double.sign_legacy(simple_signing(image.digest, f"{image.host}/{image.repository}"), signer, at)
    push_cosign_tag(target, image, ".sig", [Blob(layer.data, layer.media_type, dict(layer.annotations))])
