"""gate: a policy-as-code supply-chain gate for container images."""

import os
import sys

__version__ = "0.1.0"

# httpx imports its command-line client (rich, click, pygments: about a sixth of a `gate check`'s
# start-up) whenever those are installed; gate never runs it, so that one import fails at once
# (a None entry in sys.modules) and httpx defines its stand-in `main` instead.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# gate validates its configuration (trust keys, identities, image policies) with pydantic, which
# runs the validation hooks of every installed distribution declaring a `pydantic` entry point.
# None of them is gate's, so none may watch or change that validation; finding them also read every
# installed package's metadata at start-up.
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
