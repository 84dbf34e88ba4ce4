# evaluation.error: the image could not be evaluated (docs/rules.md). Fail closed: every error the
# Python side recorded while gathering evidence becomes a violation, and so do a document whose
# version these policies do not understand and a finding whose rule ID no policy handles.
package gate.rules.errors

import data.gate.lib
import rego.v1

# Arrays, not a partial set: see secrets.rego.
violations := array.concat(array.concat(recorded, unhandled), wrong_version)

recorded := [v |
	some err in input.errors
	v := {
		"rule": "evaluation.error",
		"message": error_message(err),
		"details": object.get(err, "details", {}),
	}
]

wrong_version := [v |
	not input.version == 1
	v := {
		"rule": "evaluation.error",
		"message": "the policy document is not version 1: upgrade gate or the policies so both speak the same schema version",
		"details": {"expected_version": 1},
	}
]

# Findings are turned into messages by secrets.rego and content.rego; any other rule ID would
# otherwise vanish silently.
handled := {
	"secret.build-arg", "secret.env", "secret.file", "secret.deleted-file",
	"content.source", "content.toolchain",
}

unhandled := [v |
	some f in input.findings
	not f.rule in handled
	v := {
		"rule": "evaluation.error",
		"message": concat("", ["a finding carries the rule ID `", lib.text(f.rule), "`, which no policy handles: upgrade the policies to match the scanners"]),
		"details": {k: val | some k, val in f; val != null},
	}
]

error_message(err) := err.message if {
	is_string(err.message)
	err.message != ""
} else := "evidence could not be evaluated (no reason recorded): check gate's log for this image"
