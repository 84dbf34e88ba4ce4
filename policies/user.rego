# user.root: the image runs as root (SPEC §1) — config `User` empty, `root`, `0` or `0:…`, the name
# resolved through the image's /etc/passwd by the Python side (`input.user`). Allowed when the
# workload itself enforces a non-root user (`runAsNonRoot: true` or a positive `runAsUser`).
# An unresolved user (`is_root` missing or null) counts as root: unknown means deny.
package gate.rules.user

import rego.v1

violations contains v if {
	not input.user.is_root == false
	not workload_enforces_non_root
	v := {
		"rule": "user.root",
		"message": sprintf("%s, and the workload does not enforce a non-root user: set `USER 10001` (numeric, non-root) in the final stage", [who]),
		"details": {
			"user": object.get(input.config, "user", ""),
			"uid": object.get(input.user, "uid", null),
			"resolved_by": object.get(input.user, "resolved_by", "unresolved"),
		},
	}
}

who := "the image config sets no `USER`, so it runs as root" if {
	object.get(input.config, "user", "") == ""
} else := sprintf("the image runs as `%s`, which is root (uid 0, resolved by %s)", [input.config.user, resolved_by]) if {
	input.user.is_root == true
} else := sprintf("the image's user `%s` could not be resolved to a uid, so it is treated as root", [input.config.user])

resolved_by := object.get(input.user, "resolved_by", "unresolved")

workload_enforces_non_root if input.context.run_as_non_root == true

workload_enforces_non_root if {
	uid := input.context.run_as_user
	is_number(uid)
	uid > 0
	floor(uid) == uid
}
