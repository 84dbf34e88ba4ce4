# provenance.missing / provenance.unverified (docs/rules.md): without build provenance nobody can say
# how the image was built; provenance that no trusted signature covers may have been written by
# anyone, so it never satisfies this rule (docs/report.md, "Unverified evidence ...").
package gate.rules.provenance

import data.gate.lib
import rego.v1

violations contains v if {
	not input.provenance.present == true
	v := {
		"rule": "provenance.missing",
		"message": concat("", [
			"no build provenance is attached to ", lib.image_text,
			": build with `docker buildx build --provenance=mode=max` or attach a signed SLSA attestation (`cosign attest --type slsaprovenance`)",
		]),
		"details": {},
	}
}

violations contains v if {
	input.provenance.present == true
	not input.provenance.verified == true
	v := {
		"rule": "provenance.unverified",
		"message": concat("", [
			"build provenance (", predicate, ") is attached to ", lib.image_text,
			" but no trusted signature covers it: sign the attestation itself (`cosign attest`) or sign the index that carries the BuildKit attestation manifest with a trusted identity",
		]),
		"details": {"predicate_type": object.get(input.provenance, "predicate_type", null)},
	}
}

predicate := input.provenance.predicate_type if {
	is_string(input.provenance.predicate_type)
} else := "unknown predicate type"
