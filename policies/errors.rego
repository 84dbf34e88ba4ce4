# evaluation.error: the image could not be evaluated (SPEC §1). Fail closed: every error the
# Python side recorded while gathering evidence becomes a violation, and so does a document
# whose version these policies do not understand.
package gate.rules.errors

import rego.v1

violations contains v if {
	some err in input.errors
	v := {
		"rule": "evaluation.error",
		"message": error_message(err),
		"details": object.get(err, "details", {}),
	}
}

violations contains v if {
	not input.version == 1
	v := {
		"rule": "evaluation.error",
		"message": "the policy document is not version 1: upgrade gate or the policies so both speak the same schema version",
		"details": {"expected_version": 1},
	}
}

error_message(err) := err.message if {
	is_string(err.message)
	err.message != ""
} else := "evidence could not be evaluated (no reason recorded): check gate's log for this image"
