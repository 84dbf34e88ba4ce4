# Example custom rule (docs/policies.md): require the Dockerfile frontend (`# syntax=…`) to be
# pinned by digest. gate does not ship this as a catalogue rule because a floating frontend
# changes how the Dockerfile is read but adds no files to the image (docs/evidence.md).
#
# Load it with `policy.dirs: [policies/examples]`; test it with `gate policy test policies/examples`.
package gate.rules.acme_frontend

import data.gate.lib
import rego.v1

violations contains v if {
	frontend := input.provenance.frontend
	frontend.pinned == false
	v := {
		"rule": "acme.frontend-unpinned",
		"action": "warn",
		"message": concat("", [
			"the Dockerfile frontend `", lib.text(frontend.ref), "` is a floating tag: pin `# syntax=",
			lib.text(frontend.ref), "@", lib.text(object.get(frontend, "digest_used", "sha256:…")), "`",
		]),
		"details": {"ref": frontend.ref},
	}
}
