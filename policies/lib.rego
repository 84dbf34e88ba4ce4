# Helpers shared by the rule packages: rule parameters from configuration (`data.gate.params`,
# filled from `rules.<id>.<param>` in gate's config) and the wording of evidence in messages.
#
# Messages are assembled with concat(), never by passing a computed string to sprintf("%s"):
# regopy 1.5.2 renders the result of concat/lower/regex.replace/trim_space inside sprintf with
# stray quotes (measured; see gate/policy/_embedded.py). sprintf is used for numbers only.
package gate.lib

import rego.v1

# param(rule, key, fallback): `rules.<rule>.<key>` as it applies to this image: `input.params`
# (the top level merged with the namespace's and the matching image policies' parameters), else
# the top-level `data.gate.params`, else `fallback`.
param(rule, key, fallback) := value if {
	value := input.params[rule][key]
} else := value if {
	value := data.gate.params[rule][key]
} else := fallback

# text(x): a string as is, a number in decimal, anything else as "?".
text(x) := x if {
	is_string(x)
} else := format_int(x, 10) if {
	is_number(x)
} else := "?"

# history_line(h): a config history `created_by` without builder noise, for quoting in messages.
history_line(h) := trim_suffix(trim_prefix(trim_prefix(h, "/bin/sh -c #(nop) "), "/bin/sh -c "), " # buildkit")

# layer_text(f): "layer 3 (`COPY .npmrc /root/`)", or "layer 3" when the history line is unknown.
layer_text(f) := concat("", ["layer ", text(f.layer), " (`", history_line(f.history), "`)"]) if {
	is_number(f.layer)
	is_string(f.history)
	f.history != ""
} else := concat("", ["layer ", text(f.layer)]) if {
	is_number(f.layer)
} else := "an unknown layer"

# details(f): a finding's fields without its rule ID and without nulls.
details(f) := {k: v | some k, v in f; k != "rule"; v != null}

# label(f): what the detector recognised, for messages ("npm-token").
label(f) := f.detector if {
	is_string(f.detector)
	f.detector != ""
} else := "unnamed detector"

# findings(rule): the findings the Python side attached to one rule ID.
findings(rule) := [f | some f in input.findings; f.rule == rule]

# image_text: the image by digest, for messages.
image_text := concat("", ["`", input.image.digest, "`"]) if {
	is_string(input.image.digest)
} else := "the image"
