# sbom.missing / sbom.denied-component (docs/rules.md): without an SBOM nobody can answer "are we
# affected?" when the next CVE lands; an unsigned SBOM may be fabricated, so it does not count.
# Denied components are matched in Python (purl + version range from `rules.sbom.denied-component`)
# and reported even from an unverified SBOM: bad news needs no signature.
package gate.rules.sbom

import data.gate.lib
import rego.v1

# One violation per denied component: an array, not a partial set (see secrets.rego).
violations := array.concat([v | some v in missing], denied)

missing contains v if {
	not input.sbom.present == true
	v := {
		"rule": "sbom.missing",
		"message": concat("", [
			"no SBOM is attached to ", lib.image_text,
			": generate one at build time (`docker buildx build --sbom=true`, or `syft` then `cosign attest --type cyclonedx`)",
		]),
		"details": {},
	}
}

formats := [f | some f in object.get(input.sbom, "formats", [])]

missing contains v if {
	input.sbom.present == true
	not input.sbom.verified == true
	v := {
		"rule": "sbom.missing",
		"message": concat("", [
			"an SBOM (", concat(", ", formats), ") is attached to ", lib.image_text,
			" but no trusted signature covers it: attest it with a trusted identity (`cosign attest --type cyclonedx`) or sign the index that carries it",
		]),
		"details": {"formats": formats, "verified": false},
	}
}

denied := [v |
	some d in object.get(input.sbom, "denied", [])
	v := {
		"rule": "sbom.denied-component",
		"message": concat("", [
			"SBOM component `", lib.text(d.purl), "` is on the deny list (range `", lib.text(object.get(d, "range", "*")), "`: ",
			lib.text(object.get(d, "reason", "no reason given")), "): upgrade it out of the denied range and rebuild",
		]),
		"details": {k: val | some k, val in d; val != null},
	}
]
