"""Importing clinprompt changes no global state: after importing every module, transformers' verbosity and
matplotlib's backend are what they were (the entry points and loaders choose them where they are needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# prints the state before and after importing the named modules (every clinprompt module when none are named);
# the backend is read raw from rcParams: reading rcParams["backend"] would itself resolve (and set) one
PROBE = """
import importlib, json, pkgutil, sys
import matplotlib
from transformers import logging as hf_logging

def state():
    backend = dict.__getitem__(matplotlib.rcParams, "backend")
    return {"verbosity": hf_logging.get_verbosity(), "backend": backend.lower() if isinstance(backend, str) else "auto"}

before = state()
names = sys.argv[1:]
if not names:
    import clinprompt
    names = [m.name for m in pkgutil.walk_packages(clinprompt.__path__, "clinprompt.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"before": before, "after": state(), "imported": len(names)}))
"""


def probe(*modules: str, path: Path = SRC) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "TRANSFORMERS_VERBOSITY")}
    env["PYTHONPATH"] = os.pathsep.join([str(path), str(SRC)])
    out = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, env=env,
                         timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_every_module_leaves_verbosity_and_backend_alone():
    seen = probe()
    assert seen["imported"] > 50  # really every module
    assert seen["before"] == {"verbosity": 30, "backend": "auto"}  # transformers' WARNING, no backend chosen
    assert seen["after"] == seen["before"]


def test_the_probe_sees_a_module_that_changes_them(tmp_path):
    (tmp_path / "noisy.py").write_text("import matplotlib\nfrom transformers import logging\n"
                                       "matplotlib.use('Agg')\nlogging.set_verbosity_error()\n")
    seen = probe("noisy", path=tmp_path)
    assert seen["after"] == {"verbosity": 40, "backend": "agg"} != seen["before"]
