"""A cache of the MRC DataModule's whole set-up: documents, tokenized documents and training examples.

The token cache alone leaves corpus parsing and example building (a hard question encoded per relation
head) to every run; this one skips both. Its key covers everything the set-up result depends on:
the DataModule's inputs (dataset config with its loader, windowing and questions, model/tokenizer config,
query kind, task, prompt length, shots, seed, fold), the library versions, the source of the data pipeline
(this package's ``data/`` and ``schema.py``), and the SHA-256 of the content of every file under the
paths the loader config names — so edited code, an upgraded tokenizer or a changed corpus file is a
miss, never a stale hit, even when the new file has the old one's size and mtime (``cp -p``, ``rsync -a``,
``tar`` keep mtimes).

The entries hold the parsed documents, i.e. note text: they live under ``paths.cache_dir`` (``.cache/`` in
the directory train.py is started from, or ``$CLINPROMPT_CACHE_DIR``), next to the token cache, and
``dataset.cache=false`` turns both off. Protect or delete that folder like the corpus itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parents[1]
_CODE = (_PACKAGE / "data", _PACKAGE / "schema.py")
FIELDS = ("train_docs", "eval_docs", "schema", "tdocs", "train_examples", "stats")


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        for root, dirs, names in os.walk(path):
            dirs.sort()
            yield from (Path(root) / n for n in sorted(names))


def _paths_in(cfg: Any) -> Iterator[Path]:
    """Every string in a (nested) loader config that names an existing file or folder."""
    if isinstance(cfg, Mapping):
        for v in cfg.values():
            yield from _paths_in(v)
    elif isinstance(cfg, list | tuple):
        for v in cfg:
            yield from _paths_in(v)
    elif isinstance(cfg, str) and not cfg.startswith("clinprompt.") and os.path.exists(cfg):
        yield Path(cfg)


def _code_hash() -> str:
    h = hashlib.sha256()
    for src in _CODE:
        for f in _files(src):
            if f.suffix == ".py":
                h.update(str(f.relative_to(_PACKAGE)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def _content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def setup_key(inputs: Mapping[str, Any], loader_cfg: Mapping[str, Any]) -> str:
    """Key of a set-up: DataModule inputs + versions + pipeline code + the loader's files (path, content)."""
    h = hashlib.sha256()
    h.update(json.dumps(inputs, sort_keys=True, default=str).encode())
    h.update(json.dumps({p: version(p) for p in ("transformers", "tokenizers")}).encode())
    h.update(_code_hash().encode())
    for path in sorted(set(_paths_in(loader_cfg))):
        for f in _files(path):
            h.update(f"{f}\0{_content_hash(f)}\n".encode())
    return h.hexdigest()[:24]


def cache_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / f"setup-{key}.pkl"


def load(path: Path) -> dict[str, Any] | None:
    """The cached fields, or None when there is no (readable, complete) entry."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as f:
            state = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None  # unreadable or written by other code: rebuilt and overwritten
    return state if isinstance(state, dict) and all(k in state for k in FIELDS) else None


def save(path: Path, state: Mapping[str, Any]) -> None:
    """Atomic write: a killed run never leaves a half entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump({k: state[k] for k in FIELDS}, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
