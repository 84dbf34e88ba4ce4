"""gate: a policy-as-code supply-chain gate for container images."""

import os
import sys
import types

__version__ = "0.1.0"

# httpx imports its command-line client (rich, click, pygments: about a sixth of a `gate check`'s
# start-up) whenever those are installed; gate never runs it, so that one import fails at once
# (a None entry in sys.modules) and httpx defines its stand-in `main` instead.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# gate validates its configuration (trust keys, identities, image policies) with pydantic, which
# runs the validation hooks of every installed distribution declaring a `pydantic` entry point.
# None of them is gate's, so none may watch or change that validation: pydantic is told so, and its
# plugin loader (which would read every installed package's metadata at start-up, about 10 ms, to
# find them) is one that finds none.
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
_NO_PLUGINS = types.ModuleType("pydantic.plugin._loader", "pydantic's plugin loader as gate runs it: no plugins.")
_NO_PLUGINS.get_plugins = tuple  # type: ignore[attr-defined]
sys.modules.setdefault("pydantic.plugin._loader", _NO_PLUGINS)
