# secret.build-arg, secret.env, secret.file, secret.deleted-file (docs/rules.md): secrets the layer,
# config and history scanners found (`input.findings`, each carrying its rule ID). Findings name
# the layer (0-based, manifest order), path and history line; values are never in them.
package gate.rules.secrets

import data.gate.lib
import rego.v1

# Arrays, not `violations contains`: one violation per finding, and regopy inserts into a partial
# set in quadratic time (200 findings: ~190 ms as a set, ~35 ms as an array; measured).
violations := array.concat(array.concat(build_args, envs), array.concat(files, deleted_files))

# mount_id(f): an id for the `--mount=type=secret,id=…` remedy, from the variable or file name.
mount_id(f) := lower(regex.replace(trim_left(base_name(f), "."), "[^A-Za-z0-9]+", "_"))

base_name(f) := f.name if {
	is_string(f.name)
	f.name != ""
} else := name if {
	parts := split(f.path, "/")
	name := parts[count(parts) - 1]
} else := "secret"

build_args := [v |
	some f in lib.findings("secret.build-arg")
	v := {
		"rule": "secret.build-arg",
		"message": concat("", [
			"build argument `", lib.text(object.get(f, "name", null)), "` looks like a secret (", lib.label(f), ") and is recorded in ", recorded_in(f),
			", readable by anyone who can pull the image: pass it with `RUN --mount=type=secret,id=", mount_id(f), "` instead of `ARG`",
		]),
		"details": lib.details(f),
	}
]

# recorded_in(f): where a build argument was seen. A history entry that produced a layer names it;
# one that did not (`ARG`, `ENV`) is quoted; build arguments read from the provenance attestation
# carry `history: "provenance build arguments"` (the scanner's source name, never a history line).
recorded_in(f) := concat("", ["the history of ", lib.layer_text(f)]) if {
	is_number(f.layer)
} else := "the provenance build arguments" if {
	f.history == "provenance build arguments"
} else := concat("", ["the image history (`", lib.history_line(f.history), "`)"]) if {
	is_string(f.history)
	f.history != ""
} else := "the image history or the provenance build arguments"

envs := [v |
	some f in lib.findings("secret.env")
	v := {
		"rule": "secret.env",
		"message": concat("", [
			"`", lib.text(object.get(f, "name", null)), "` in the image config (ENV, labels or command) looks like a secret (", lib.label(f),
			"), and `docker inspect` shows it to anyone who can pull the image: remove it from the Dockerfile and inject it at run time from a Kubernetes Secret",
		]),
		"details": lib.details(f),
	}
]

files := [v |
	some f in lib.findings("secret.file")
	v := {
		"rule": "secret.file",
		"message": concat("", [
			"`", lib.text(f.path), "` (", lib.label(f), ") is in the final filesystem, added in ", lib.layer_text(f),
			": keep it out of the build context (.dockerignore) and use it only while building with `RUN --mount=type=secret,id=", mount_id(f), "`",
		]),
		"details": lib.details(f),
	}
]

deleted_files := [v |
	some f in lib.findings("secret.deleted-file")
	v := {
		"rule": "secret.deleted-file",
		"message": concat("", [
			"`", lib.text(f.path), "` (", lib.label(f), ") was added in ", lib.layer_text(f), " and deleted in layer ", lib.text(object.get(f, "deleted_in_layer", null)),
			", but it is still in layer ", lib.text(object.get(f, "layer", null)), ": use `RUN --mount=type=secret,id=", mount_id(f), "`",
		]),
		"details": lib.details(f),
	}
]
