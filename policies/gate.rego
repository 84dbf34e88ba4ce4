# The decision document: every violation of every rule package under `gate.rules`.
#
# Each concern lives in its own `package gate.rules.<concern>` and defines `violations`, a set or
# an array of `{"rule": <rule ID>, "message": <text naming the evidence and the remedy>,
# "details": {...}}`. Packages that emit one violation per finding use arrays: regopy inserts into
# partial sets in quadratic time. Custom rules join the same way (see docs/policies.md).
package gate

import rego.v1

violations := [v | some v in data.gate.rules[_].violations]
