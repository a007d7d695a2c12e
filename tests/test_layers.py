"""Imports point down only (README, "Layers"): every module under src/clinprompt is read with ``ast`` (top-level
and function-level imports alike), mapped to a layer by LAYER_OF, and may import only its own layer or lower ones;
no module imports another module's private (``_name``) names. The checker is tested on a planted violation."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# bottom to top
LAYERS: tuple[str, ...] = ("base", "data", "models", "evaluation", "training", "reporting", "cli")
# dotted module prefix -> layer; the most specific (longest) matching prefix wins. A new module whose prefix is
# not listed fails test_every_module_has_a_layer: add a row here (and to README's table).
LAYER_OF: dict[str, str] = {
    "clinprompt": "base",  # the package's __init__
    "clinprompt.config": "base",
    "clinprompt.schema": "base",
    "clinprompt.backbone": "base",
    "clinprompt.strategy": "base",
    "clinprompt.conf": "base",
    "clinprompt.data": "data",
    "clinprompt.qa": "data",  # the QA study's package __init__; its modules are listed one by one
    "clinprompt.qa.data": "data",
    "clinprompt.qa.datamodule": "data",
    "clinprompt.prompts": "models",
    "clinprompt.models": "models",
    "clinprompt.qa.encoder": "models",
    "clinprompt.qa.seq2seq": "models",
    "clinprompt.qa.t5_prefix": "models",
    "clinprompt.decoding": "evaluation",
    "clinprompt.evaluation": "evaluation",
    "clinprompt.qa.metrics": "evaluation",
    # the LightningModules run a training/evaluation step: model + decoding + scoring, so they sit above them
    "clinprompt.models.mrc_module": "training",
    "clinprompt.qa.module": "training",
    "clinprompt.training": "training",
    "clinprompt.scale": "training",
    "clinprompt.reporting": "reporting",
    "clinprompt.qa.report": "reporting",
    "clinprompt.cli": "cli",
}


def module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str, table: Mapping[str, str]) -> str:
    """The layer of the longest prefix of ``module`` (whole dotted components) in ``table``."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in table:
            return table[".".join(parts[:n])]
    raise KeyError(f"{module}: no layer; add its package or module to LAYER_OF")


def is_module(name: str, src: Path) -> bool:
    base = src.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(path: Path, src: Path, package: str) -> Iterator[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every import of ``package`` anywhere in the file;
    ``from pkg import mod`` yields the module ``pkg.mod``."""
    me = module_name(path, src)
    here = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package:
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != package:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (node.lineno, sub, None) if is_module(sub, src) else (node.lineno, base, alias.name)


def private_attributes(path: Path, src: Path, package: str) -> Iterator[tuple[int, str, str]]:
    """``mod._name`` where ``mod`` is bound to another module of ``package`` by an import in this file."""
    tree = ast.parse(path.read_text(), str(path))
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package and alias.asname:
                    bound[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package:
            for alias in node.names:
                if is_module(f"{node.module}.{alias.name}", src):
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            yield node.lineno, bound[node.value.id], node.attr


def violations(src: Path, package: str, table: Mapping[str, str], order: Sequence[str] = LAYERS) -> list[str]:
    rank = {name: i for i, name in enumerate(order)}
    out = []
    for path in sorted((src / package).rglob("*.py")):
        me = module_name(path, src)
        mine = layer_of(me, table)
        where = f"{path.relative_to(src)}"
        for line, target, name in imports(path, src, package):
            theirs = layer_of(target, table)
            if rank[theirs] > rank[mine]:
                out.append(f"{where}:{line}: {me} ({mine}) imports {target} ({theirs}), a higher layer")
            if name is not None and name.startswith("_") and not name.startswith("__") and target != me:
                out.append(f"{where}:{line}: {me} imports the private name {target}.{name}")
        for line, target, attr in private_attributes(path, src, package):
            if target != me:
                out.append(f"{where}:{line}: {me} uses the private name {target}.{attr}")
    return list(dict.fromkeys(out))  # one line per import statement, not per imported name


def test_every_module_has_a_layer():
    for path in (SRC / "clinprompt").rglob("*.py"):
        assert layer_of(module_name(path, SRC), LAYER_OF) in LAYERS


def test_imports_point_down_and_no_private_names_cross_modules():
    assert violations(SRC, "clinprompt", LAYER_OF) == []


# ---- the checker on a tiny planted package ----
TOY_LAYERS = {"toy": "base", "toy.low": "base", "toy.data": "data", "toy.cli": "cli"}


def toy(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"toy/__init__.py": "", "toy/data/__init__.py": "", **files}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_checker_passes_a_package_that_points_down(tmp_path):
    src = toy(tmp_path, {"toy/low.py": "X = 1\n",
                         "toy/data/reader.py": "from toy.low import X\nfrom . import helper\n",
                         "toy/data/helper.py": "def _mine():\n    return 1\n\nY = _mine()\n",
                         "toy/cli.py": "import toy.data.reader\nfrom toy.data import reader\n"})
    assert violations(src, "toy", TOY_LAYERS) == []


@pytest.mark.parametrize("code,found", [
    ("from toy.cli import main\n", "imports toy.cli (cli), a higher layer"),
    ("def f():\n    import toy.cli\n    return toy.cli\n", "imports toy.cli (cli), a higher layer"),
    ("from .. import cli\n", "imports toy.cli (cli), a higher layer"),
    ("from toy.low import _secret\n", "imports the private name toy.low._secret"),
    ("from toy import low\n\nY = low._secret\n", "uses the private name toy.low._secret"),
])
def test_checker_finds_a_planted_violation(tmp_path, code, found):
    src = toy(tmp_path, {"toy/low.py": "_secret = 1\n", "toy/cli.py": "def main():\n    pass\n",
                         "toy/data/reader.py": code})
    (problem,) = violations(src, "toy", TOY_LAYERS)
    assert problem.startswith("toy/data/reader.py:") and found in problem


def test_a_module_without_a_layer_is_an_error():
    with pytest.raises(KeyError, match="no layer"):
        layer_of("elsewhere.module", TOY_LAYERS)
