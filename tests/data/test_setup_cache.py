"""The DataModule's whole set-up cache: a hit equals a fresh build; config, code-relevant inputs and
corpus files that change are misses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra.utils import instantiate

from clinprompt.data import setup_cache
from clinprompt.scale.compose import compose_config


def _datamodule(tmp_path: Path, cache: Path | None, *overrides: str):
    cfg = compose_config([f"paths.cache_dir={tmp_path}", f"paths.output_dir={tmp_path}/run", "model=tiny_bert",
                          "strategy=hard_prompt", "task=end_to_end", "dataset.loader.n_train=3",
                          "dataset.loader.n_dev=1", "dataset.loader.n_test=1", *overrides])
    dm = instantiate(cfg.module.datamodule, _recursive_=False, cache_dir=str(cache) if cache else None)
    dm.setup("fit")
    return dm


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "setup"


def test_hit_equals_a_fresh_build(tmp_path: Path, cache: Path):
    first = _datamodule(tmp_path, cache)
    assert not first.stats.get("setup_cached")
    assert len(list(cache.glob("setup-*.pkl"))) == 1
    second = _datamodule(tmp_path, cache)
    fresh = _datamodule(tmp_path, None)  # no cache at all: the independent reference
    assert second.stats["setup_cached"] is True
    assert second.train_examples == fresh.train_examples
    assert second.tdocs == fresh.tdocs
    assert [d.doc_id for d in second.eval_docs["test"]] == [d.doc_id for d in fresh.eval_docs["test"]]
    assert second.schema == fresh.schema
    assert second.builder.window_size == fresh.builder.window_size  # the builder is rebuilt, not pickled


def test_windowing_and_sampling_are_part_of_the_key(tmp_path: Path, cache: Path):
    _datamodule(tmp_path, cache)
    other_window = _datamodule(tmp_path, cache, "dataset.window.size=64", "dataset.window.stride=48")
    assert not other_window.stats.get("setup_cached")
    other_seed = _datamodule(tmp_path, cache, "seed=3")
    assert not other_seed.stats.get("setup_cached")
    assert len(list(cache.glob("setup-*.pkl"))) == 3


def test_a_changed_corpus_file_is_a_miss_even_with_the_same_size_and_mtime(tmp_path: Path, cache: Path):
    _datamodule(tmp_path, cache)
    corpus_file = next(p for p in (tmp_path / "synthetic").rglob("*.txt"))
    st = corpus_file.stat()
    os.utime(corpus_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched, content unchanged: still a hit
    assert _datamodule(tmp_path, cache).stats.get("setup_cached") is True
    text = corpus_file.read_bytes()
    edited = text.replace(b"a", b"e", 1) if b"a" in text else text[:-1] + b"!"
    assert edited != text and len(edited) == len(text)
    st = corpus_file.stat()
    corpus_file.write_bytes(edited)  # what `cp -p`, `rsync -a` or `tar` leave: new content, old size and mtime
    os.utime(corpus_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert corpus_file.stat().st_size == st.st_size and corpus_file.stat().st_mtime_ns == st.st_mtime_ns
    assert not _datamodule(tmp_path, cache).stats.get("setup_cached")


def test_dataset_cache_false_writes_and_reads_no_cache(tmp_path: Path, cache: Path):
    _datamodule(tmp_path, cache)
    off = _datamodule(tmp_path, cache, "dataset.cache=false")
    assert not off.stats.get("setup_cached") and off.cache_dir is None
    assert len(list(cache.glob("setup-*.pkl"))) == 1


def test_an_unreadable_entry_is_rebuilt(tmp_path: Path):
    bad = tmp_path / "setup-x.pkl"
    bad.write_bytes(b"not a pickle")
    assert setup_cache.load(bad) is None
    assert setup_cache.load(tmp_path / "missing.pkl") is None
