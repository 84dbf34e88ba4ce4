# image.stale (docs/rules.md): an old image carries an old base and an old dependency cache, so fixes
# released since never reached it. The build time is the verified provenance's finish time, else
# the config's `created`; neither known counts as stale (unknown means deny). Maximum age:
# `rules.image.stale.max_age_days` (default 90). A build time in the future proves nothing (a clock
# set wrong, or a date forged to look fresh for ever): past `max_future_minutes` (default 10, for
# clock skew) it is reported as suspicious instead of being taken as fresh.
package gate.rules.staleness

import data.gate.lib
import rego.v1

day_ns := 86400000000000

max_age_days := lib.param("image.stale", "max_age_days", 90)

max_future_minutes := lib.param("image.stale", "max_future_minutes", 10)

minute_ns := 60000000000

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

violations contains v if {
	ahead_minutes := floor((built.ns - input.now_ns) / minute_ns)
	built.ns - input.now_ns > max_future_minutes * minute_ns
	v := {
		"rule": "image.stale",
		"message": concat("", [
			"the image claims to be built in the future (", date_text(built.ns), " by ", built.source, ", ",
			lib.text(ahead_minutes), " minutes ahead of gate's clock, more than `max_future_minutes` ", lib.text(max_future_minutes),
			"), so its age cannot be trusted: rebuild it on a machine with a correct clock (or a real `SOURCE_DATE_EPOCH`)",
		]),
		"details": {"ahead_minutes": ahead_minutes, "built": date_text(built.ns), "max_future_minutes": max_future_minutes},
	}
}

date_text(ns) := sprintf("%04d-%02d-%02d", time.date(ns))
