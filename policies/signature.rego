# signature.missing: no signature verifies against the configured trust (docs/rules.md). The Python
# side verifies; `input.signatures.verified` lists the signers that count for this image only.
# When image policies match (`input.image_policies`), each must have `threshold` of its
# authorities signed, and the violation names the entry and the missing authorities; otherwise
# (no entry matches) any signer of `trust.keys` / `trust.keyless` will do, as before. The message tells the three
# cases apart: nothing found, signed only by signers gate does not trust (named), or signatures
# that failed verification (with why). A rejected signature is untrusted when its `status` is
# `untrusted` (sound, but its `signer` is not configured in `trust`); without a `status`, a named
# `signer` means the same.
package gate.rules.signature

import data.gate.lib
import rego.v1

verified := object.get(input.signatures, "verified", [])

rejected := object.get(input.signatures, "rejected", [])

untrusted := sort({signer_text(r) | some r in rejected; is_untrusted(r)})

failures := [concat(": ", [lib.text(r.layout), lib.text(r.reason)]) | some r in rejected; not is_untrusted(r)]

is_untrusted(r) if r.status == "untrusted"

is_untrusted(r) if {
	not r.status
	is_string(r.signer)
	r.signer != ""
}

signer_text(r) := r.signer if {
	is_string(r.signer)
	r.signer != ""
} else := "an unnamed signer"

policies := input.image_policies if {
	is_array(input.image_policies)
} else := []

violations contains v if {
	count(policies) == 0
	count(verified) == 0
	v := {
		"rule": "signature.missing",
		"message": message,
		"details": {
			"found": object.get(input.signatures, "found", 0),
			"untrusted_signers": untrusted,
			"failures": failures,
		},
	}
}

message := concat("", [
	lib.image_text, " is signed only by untrusted signer(s) ", concat(", ", untrusted), failure_suffix,
	": if that identity is yours add it to `trust.keys` or `trust.keyless`, otherwise re-sign the digest with a trusted identity",
]) if {
	count(untrusted) > 0
} else := concat("", [
	lib.text(count(rejected)), " signature(s) found for ", lib.image_text, " but none verified (", concat("; ", failures),
	"): re-sign the digest with a configured key or keyless identity",
]) if {
	count(failures) > 0
} else := concat("", [
	"no signature found for ", lib.image_text,
	": sign the digest in CI (`cosign sign --key cosign.key <image>@<digest>` or keyless) and configure the signer in `trust`",
])

failure_suffix := concat("", ["; other signatures failed verification (", concat("; ", failures), ")"]) if {
	count(failures) > 0
} else := ""

violations contains v if {
	some p in policies
	not p.satisfied == true
	v := {
		"rule": "signature.missing",
		"message": concat("", [
			"image policy `", p.name, "` needs ", lib.text(p.threshold), " of its authorities (", concat(", ", p.authorities),
			") to sign ", lib.image_text, "; signed by: ", names_text(p.signed_by), "; missing: ", concat(", ", p.missing),
			other_signers, ": sign the digest with the missing authorities (`cosign sign`), or change the entry's `authorities`/`threshold`",
		]),
		"details": {
			"image_policy": p.name,
			"threshold": p.threshold,
			"signed_by": p.signed_by,
			"missing": p.missing,
			"untrusted_signers": untrusted,
			"failures": failures,
		},
	}
}

names_text(names) := concat(", ", names) if {
	count(names) > 0
} else := "none"

other_signers := concat("", ["; signatures by ", concat(", ", untrusted), " do not count for this image"]) if {
	count(untrusted) > 0
} else := ""
