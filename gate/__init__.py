"""gate: a policy-as-code supply-chain gate for container images."""

import sys

__version__ = "0.1.0"

# httpx imports its command-line client (rich, click, pygments: about a sixth of a `gate check`'s
# start-up) whenever those are installed; gate never runs it, so that one import fails at once
# (a None entry in sys.modules) and httpx defines its stand-in `main` instead.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
