# attestation.missing (docs/rules.md): an image policy (`images[].attestations`) requires an
# attestation of a predicate type, signed by one of the entry's authorities (itself, or covered by
# their signature on the manifest that carries it). The Python side tells, per matching entry and
# required type, whether one is present at all and whether one is vouched for by the entry.
package gate.rules.attestation

import data.gate.lib
import rego.v1

violations contains v if {
	some p in input.image_policies
	some a in p.attestations
	not a.verified == true
	v := {
		"rule": "attestation.missing",
		"message": concat("", ["image policy `", p.name, "` requires a `", a.type, "` attestation about ", lib.image_text, which(a)]),
		"details": {"image_policy": p.name, "predicate_type": a.type, "present": a.present == true, "authorities": p.authorities},
	}
}

which(a) := concat("", [
	", and one is attached but none is signed by the entry's authorities: sign it with one of them (`cosign attest --type ",
	a.type, "`)",
]) if {
	a.present == true
} else := concat("", [", and none is attached: attach one signed by one of the entry's authorities (`cosign attest --type ", a.type, "`)"])
