# user.root: the image runs as root (docs/rules.md) — config `User` empty, `root`, `0` or `0:…`, the name
# resolved through the image's /etc/passwd by the Python side (`input.user`). Allowed when the
# workload itself enforces a non-root user (`runAsNonRoot: true` or a positive `runAsUser`).
# An unresolved user (`is_root` missing or null) counts as root: unknown means deny.
package gate.rules.user

import data.gate.lib
import rego.v1

violations contains v if {
	not input.user.is_root == false
	not workload_enforces_non_root
	v := {
		"rule": "user.root",
		"message": concat("", [who, ", and the workload does not enforce a non-root user: set `USER 10001` (numeric, non-root) in the final stage"]),
		"details": {
			"user": configured,
			"uid": object.get(input.user, "uid", null),
			"resolved_by": resolved_by,
		},
	}
}

configured := object.get(input.config, "user", "")

resolved_by := object.get(input.user, "resolved_by", "unresolved")

who := "the image config sets no `USER`, so it runs as root" if {
	configured == ""
} else := concat("", ["the image's user `", lib.text(configured), "` resolves to uid ", lib.text(sprintf("%v", [input.user.uid])), ", outside 0..2147483647, which containerd truncates to 32 bits (CVE-2024-40635) and so may run as root"]) if {
	resolved_by == "out-of-range"
} else := concat("", ["the image runs as `", lib.text(configured), "`, which is root (uid 0, resolved by ", lib.text(resolved_by), ")"]) if {
	input.user.is_root == true
	resolved_by != "unresolved"
} else := concat("", ["the image's user `", lib.text(configured), "` could not be resolved to a uid, so it is treated as root"])

# The kubelet's runAsNonRoot check reads the image uid as an int64 and only refuses 0, while the
# runtime truncates a uid outside 0..2^31-1 to 32 bits (CVE-2024-40635): no excuse for those.
workload_enforces_non_root if {
	input.context.run_as_non_root == true
	not input.user.resolved_by == "out-of-range"
}

workload_enforces_non_root if {
	uid := input.context.run_as_user
	is_number(uid)
	uid > 0
	uid <= 2147483647
	floor(uid) == uid
}
