# image.stale (docs/rules.md): an old image carries an old base and an old dependency cache, so fixes
# released since never reached it. The build time is the verified provenance's finish time, else
# the config's `created`; neither known counts as stale (unknown means deny). Maximum age:
# `rules.image.stale.max_age_days` (default 90).
package gate.rules.staleness

import data.gate.lib
import rego.v1

day_ns := 86400000000000

max_age_days := lib.param("image.stale", "max_age_days", 90)

built := {"ns": input.provenance.finished_ns, "source": "the verified provenance's build finish time"} if {
	input.provenance.verified == true
	is_number(input.provenance.finished_ns)
} else := {"ns": input.config.created_ns, "source": "the image config's `created`"} if {
	is_number(input.config.created_ns)
}

violations contains v if {
	age_days := floor((input.now_ns - built.ns) / day_ns)
	input.now_ns - built.ns > max_age_days * day_ns
	v := {
		"rule": "image.stale",
		"message": concat("", [
			"the image was built ", lib.text(age_days), " days ago (", date_text(built.ns), " by ", built.source,
			"), more than `max_age_days` ", lib.text(max_age_days),
			": rebuild it on a freshly pulled base (`docker build --pull`) so base-image and dependency fixes reach it",
		]),
		"details": {"age_days": age_days, "built": date_text(built.ns), "max_age_days": max_age_days},
	}
}

violations contains v if {
	not built
	v := {
		"rule": "image.stale",
		"message": "the build time is unknown (no verified provenance finish time, no config `created`), so the image's age cannot be checked: build with a recorded creation time (BuildKit sets it; `SOURCE_DATE_EPOCH` keeps it reproducible)",
		"details": {"max_age_days": max_age_days},
	}
}

date_text(ns) := sprintf("%04d-%02d-%02d", time.date(ns))
