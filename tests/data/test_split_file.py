"""dataset.split_file (JSON split -> document ids) for the ade and brat loaders, and CV over every document."""

from __future__ import annotations

import json
import shutil

import pytest

from clinprompt.data.corpora.ade import load_ade
from clinprompt.data.corpora.base import split_ids, write_split_file
from clinprompt.data.corpora.brat_corpus import load_brat_corpus
from clinprompt.data.sampling import kfold_all


@pytest.fixture(scope="module")
def ade(data_dir):
    return load_ade(data_dir)


def _ids(corpus) -> dict[str, list[str]]:
    return {s: [d.doc_id for d in corpus.splits[s]] for s in ("train", "dev", "test")}


def test_ade_round_trip_reproduces_the_split_exactly(ade, data_dir, tmp_path):
    path = write_split_file(ade, tmp_path / "split.json")
    again = load_ade(data_dir, split_file=path)
    assert _ids(again) == _ids(ade)
    by_id = {d.doc_id: d for d in ade.documents()}
    for d in again.documents():  # the same documents, annotations and all
        assert d.text == by_id[d.doc_id].text and d.entities == by_id[d.doc_id].entities


def test_ade_custom_split_moves_documents(ade, data_dir, tmp_path):
    ids = split_ids(ade)
    moved = ids["train"][:5]
    spec = {"train": ids["train"][5:], "dev": ids["dev"], "test": ids["test"] + moved}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(spec))
    mine = load_ade(data_dir, split_file=path)
    assert _ids(mine) == spec
    assert len(mine.documents()) == len(ade.documents())


def test_unlisted_documents_are_left_out_with_a_warning(ade, data_dir, tmp_path, caplog):
    ids = split_ids(ade)
    path = tmp_path / "part.json"
    path.write_text(json.dumps({"train": ids["train"][:10], "test": ids["test"][:3]}))
    with caplog.at_level("WARNING"):
        part = load_ade(data_dir, split_file=path)
    assert [len(part.splits[s]) for s in ("train", "dev", "test")] == [10, 0, 3]
    left = len(ade.documents()) - 13
    assert f"{left} of the ade corpus's {len(ade.documents())} documents are in no split" in caplog.text


@pytest.mark.parametrize("spec,message", [
    ({"train": ["A", "999999999"], "test": []}, "split 'train': unknown document id '999999999'"),
    ({"train": ["A", "A"], "test": []}, "split 'train': document id 'A' is listed twice in 'train'"),
    ({"train": ["A"], "dev": [], "test": ["A"]}, "split 'test': document id 'A' is listed in both 'train' and 'test'"),
    ({"train": ["A"]}, "expected a JSON object with 'train' and 'test'"),
    ({"train": ["A"], "test": [], "holdout": ["B"]}, "unknown split name(s) ['holdout']"),
    ({"train": "A", "test": []}, "split 'train': expected a list of document ids"),
])
def test_bad_split_files_name_the_file_split_and_id(ade, data_dir, tmp_path, spec, message):
    first, second = split_ids(ade)["train"][:2]
    text = json.dumps(spec).replace('"A"', f'"{first}"').replace('"B"', f'"{second}"')
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_ade(data_dir, split_file=path)
    assert str(path) in str(err.value)
    assert message.replace("'A'", f"'{first}'") in str(err.value)


def test_unreadable_or_missing_split_file(data_dir, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"train": [\n"1",\n')
    with pytest.raises(ValueError, match=r"broken.json: line \d+: not valid JSON"):
        load_ade(data_dir, split_file=path)
    with pytest.raises(FileNotFoundError, match="dataset.split_file=.*nope.json: no such file"):
        load_ade(data_dir, split_file=tmp_path / "nope.json")


def test_brat_split_file_round_trip_and_resplit(data_dir, tmp_path):
    src = data_dir / "etude-brat-samples" / "brat_reference"
    for split, name in (("train", "ibm"), ("train", "sony"), ("test", "ibm")):
        (tmp_path / split).mkdir(exist_ok=True)
        stem = name if split == "train" else "ibm_test"
        for ext in (".txt", ".ann"):
            shutil.copyfile(src / f"{name}{ext}", tmp_path / split / f"{stem}{ext}")
    corpus = load_brat_corpus(tmp_path)
    path = write_split_file(corpus, tmp_path / "split.json")
    assert _ids(load_brat_corpus(tmp_path, split_file=path)) == _ids(corpus)
    path.write_text(json.dumps({"train": ["ibm_test", "ibm"], "dev": ["sony"], "test": []}))
    resplit = load_brat_corpus(tmp_path, split_file=path)
    assert _ids(resplit) == {"train": ["ibm_test", "ibm"], "dev": ["sony"], "test": []}
    path.write_text(json.dumps({"train": ["ibm", "IBM"], "test": []}))
    with pytest.raises(ValueError, match="split 'train': unknown document id 'IBM'"):
        load_brat_corpus(tmp_path, split_file=path)


def test_ten_fold_cv_over_every_document(ade):
    docs = ade.documents()
    tests, seen = [], set()
    for fold in range(10):
        train, dev, test = kfold_all(docs, 10, fold, seed=3)
        ids = [{d.doc_id for d in part} for part in (train, dev, test)]
        assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
        assert len(train) + len(dev) + len(test) == len(docs)
        assert abs(len(dev) - round(0.1 * (len(docs) - len(test)))) <= 1
        tests.append(ids[2])
        seen |= ids[2]
    assert seen == {d.doc_id for d in docs} and sum(len(t) for t in tests) == len(docs)  # tests partition all
    assert max(len(t) for t in tests) - min(len(t) for t in tests) <= 1
    # the loader's document order does not matter
    assert {d.doc_id for d in kfold_all(list(reversed(docs)), 10, 4, seed=3)[2]} == tests[4]


def test_datamodule_fold_over_all_documents(data_dir, tmp_path):
    from hydra.utils import instantiate

    from clinprompt.scale.compose import compose_config

    cfg = compose_config(["model=tiny_bert", "strategy=no_prompt", "dataset.loader.n_train=8",
                          "dataset.loader.n_dev=2", "dataset.loader.n_test=2", "+dataset.cv_over=all",
                          "dataset.folds=3", "fold=1", f"paths.cache_dir={tmp_path}",
                          "module.datamodule.cache_dir=null"])
    dm = instantiate(cfg.module.datamodule, _recursive_=False)
    dm.setup("fit")
    _, _, test = kfold_all(dm.train_docs + dm.eval_docs["dev"] + dm.eval_docs["test"], 3, 1, cfg.seed)
    assert {d.doc_id for d in dm.eval_docs["test"]} == {d.doc_id for d in test}
    assert dm.stats["train_docs"] + dm.stats["dev_docs"] + dm.stats["test_docs"] == 12
