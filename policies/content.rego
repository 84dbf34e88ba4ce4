# content.source / content.toolchain (docs/rules.md): a broad `COPY . .` in the final stage drags VCS
# metadata, source trees and package caches into production; a final stage built on the builder
# keeps compilers and package managers. Both enlarge the attack surface and leak internals.
package gate.rules.content

import data.gate.lib
import rego.v1

# Arrays, not a partial set: see secrets.rego.
violations := array.concat(sources, toolchains)

sources := [v |
	some f in lib.findings("content.source")
	v := {
		"rule": "content.source",
		"message": concat("", [
			"`", lib.text(f.path), "` (", lib.label(f), ") from ", lib.layer_text(f),
			" is in the final image: copy only build outputs into the final stage (`COPY --from=builder /out/app /app`) and exclude the rest with .dockerignore",
		]),
		"details": lib.details(f),
	}
]

toolchains := [v |
	some f in lib.findings("content.toolchain")
	v := {
		"rule": "content.toolchain",
		"message": concat("", [
			"`", lib.text(f.path), "` (", lib.label(f), ") from ", lib.layer_text(f),
			" is a build toolchain in the final image: build in a builder stage and start the final stage from a runtime-only base (e.g. distroless), copying just the artefact",
		]),
		"details": lib.details(f),
	}
]
