"""Signed verification summaries: gate's verdict and facts about an image, attached to it.

After a full check, :class:`Attester` signs an SLSA ``verification_summary/v1`` statement about the
image digest (keyed DSSE in a Sigstore bundle v0.3, as ``cosign attest --key`` writes in v3) and
pushes it as an OCI 1.1 referrer of the image (artifact type the bundle media type, empty config,
the bundle as its one layer), with the tag-schema index where the registry has no referrers API.
Gates that list the signer in ``trust.verifiers`` then skip fetching, verifying and scanning.

    attester = Attester.from_config(config)
    attested = await attester.attest(engine, result, now)
"""

from gate.attest._attester import Attested, Attester

__all__ = ["Attested", "Attester"]
