"""Compiled Rego bundles kept on disk, so a short-lived ``gate check`` loads its policies instead of
compiling them.

Building the shipped library into a bundle takes 30-40 ms; loading rego-cpp's binary bundle
(``BundleFormat.Binary``) about 1 ms. The file name is a hash of everything the bundle is built
from (module names and sources, data, query) and of the regopy version, so editing a policy or a
rule parameter, or upgrading regopy, builds afresh. A file that does not load is rebuilt and
rewritten. The directory is the scan cache's, with the same trust: whoever can write it can
already change the cached layer scans.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import regopy

from gate.policy._sources import Module


def bundle_file(directory: Path, modules: tuple[Module, ...], data_json: str, query: str) -> Path:
    """Where the bundle built from these inputs is kept in ``directory``."""
    material = json.dumps([regopy.__version__, query, data_json, [[m.name, m.source] for m in modules]], separators=(",", ":"))
    return directory / f"rego-{hashlib.sha256(material.encode()).hexdigest()}.rbb"


def load_bundle(interpreter: regopy.Interpreter, path: Path) -> regopy.Bundle | None:
    """The bundle stored at ``path`` loaded into ``interpreter``; None when absent or unusable."""
    if not path.is_file():
        return None
    try:
        bundle = interpreter.load_bundle(str(path), regopy.BundleFormat.Binary)
    except (regopy.RegoError, OSError, ValueError):
        return None
    return bundle if bundle.ok() else None


def store_bundle(interpreter: regopy.Interpreter, bundle: regopy.Bundle, path: Path) -> None:
    """Write atomically (a reader never sees half a file); a cache that cannot be written is left alone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rego-", suffix=".tmp")
        os.close(handle)
        try:
            interpreter.save_bundle(temporary, bundle, regopy.BundleFormat.Binary)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, regopy.RegoError):
        return
