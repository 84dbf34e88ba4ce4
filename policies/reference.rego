# image.mutable-reference: the workload names its image by tag only (docs/rules.md). gate judged the
# digest the tag pointed to at admission, but the tag can be re-pushed and the node pulls whatever
# it points to then. Only references read from a workload's pod spec (`input.context.from_workload`:
# the webhook, `gate check manifest`) are judged by this rule: a person asking `gate check image`
# about a tag means the tag.
package gate.rules.reference

import data.gate.lib
import rego.v1

violations contains v if {
	input.context.from_workload == true
	written := input.image.reference
	not contains(written, "@")
	v := {
		"rule": "image.mutable-reference",
		"message": concat("", ["the tag can move after admission: write `", pinned, "` (the digest gate judged) or enable gate's mutating webhook"]),
		"details": {"reference": written, "digest": judged, "pinned": pinned},
	}
}

# judged: the digest the tag resolved to; an index stays the index, so every node gets its platform.
judged := input.image.index_digest if {
	is_string(input.image.index_digest)
} else := input.image.digest

# pinned: the reference as written, tag made explicit, with the judged digest.
pinned := concat("", [input.image.reference, "@", judged]) if {
	contains(last_segment, ":")
} else := concat("", [input.image.reference, ":latest@", judged])

last_segment := segments[count(segments) - 1] if {
	segments := split(input.image.reference, "/")
}
