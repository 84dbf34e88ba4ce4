# builder.unpinned / builder.untrusted (docs/rules.md): every stage's base (`FROM`) of a multi-stage
# build, as recorded in the provenance (`input.provenance.stages`). A floating tag means the next
# build may silently get a different (or hostile) base, and the builder stage's output is copied
# into the final image. `scratch` and stages built `FROM` an earlier stage are not images.
package gate.rules.builder

import data.gate.lib
import rego.v1

stages := object.get(input.provenance, "stages", [])

# `parent_stage` is computed once, on the Python side, as BuildKit resolves a base: a stage named
# *before* this `FROM`. Every other base (including one equal to a later stage's name) is an image.
image_stages contains s if {
	some s in stages
	not s.scratch == true
	not is_string(s.parent_stage)
}

stage_text(s) := concat("", ["stage ", lib.text(s.index), " (`", s.name, "`)"]) if {
	is_string(s.name)
	s.name != ""
} else := concat("", ["stage ", lib.text(s.index)])

digest_text(s) := s.digest_used if {
	is_string(s.digest_used)
} else := "sha256:…"

stage_details(s) := {k: v | some k, v in s; k in {"index", "name", "line", "base", "digest_used"}; v != null}

violations contains v if {
	some s in image_stages
	not s.pinned == true
	v := {
		"rule": "builder.unpinned",
		"message": concat("", [
			stage_text(s), " starts from the floating tag `", lib.text(s.base), "` (`", lib.text(object.get(s, "line", "")),
			"`), so the next build may get a different base: pin `FROM ", lib.text(s.base), "` to `", lib.text(s.base), "@", digest_text(s), "`",
		]),
		"details": stage_details(s),
	}
}

# builder.untrusted applies only when `rules.builder.untrusted.allow` lists digests (bare
# `sha256:…` or `name@sha256:…`). Unverified provenance cannot prove a base is approved.
allow := lib.param("builder.untrusted", "allow", [])

allowed(digest) if {
	some entry in allow
	entry == digest
}

allowed(digest) if {
	some entry in allow
	endswith(entry, concat("", ["@", digest]))
}

violations contains v if {
	count(allow) > 0
	input.provenance.verified == true
	some s in image_stages
	not allowed(s.digest_used)
	v := {
		"rule": "builder.untrusted",
		"message": concat("", [
			stage_text(s), " base `", lib.text(s.base), "` resolved to `", digest_text(s),
			"`, which is not on `rules.builder.untrusted.allow`: build from an approved base digest, or review this one and add it to the allow list",
		]),
		"details": stage_details(s),
	}
}

violations contains v if {
	count(allow) > 0
	input.provenance.verified == true
	count(image_stages) == 0
	v := {
		"rule": "builder.untrusted",
		"message": "the provenance records no base image, so the builder cannot be checked against `rules.builder.untrusted.allow`: build with BuildKit provenance (`--provenance=mode=max`) so every `FROM` is recorded",
		"details": {},
	}
}

violations contains v if {
	count(allow) > 0
	not input.provenance.verified == true
	v := {
		"rule": "builder.untrusted",
		"message": "no verified provenance records the base images, so the builder cannot be checked against `rules.builder.untrusted.allow`: attach signed provenance (see provenance.missing and provenance.unverified)",
		"details": {},
	}
}
