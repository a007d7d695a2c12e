"""Checkpoints that fit the strategy: soft_frozen saves prompts + heads only, reloads onto a fresh backbone with
the same predictions, and is refused by another backbone; clinprompt-predict serves two prompt sets at once."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from clinprompt.cli.predict import main as predict_main
from clinprompt.config import conf_dir
from clinprompt.data.brat import read_document
from clinprompt.data.datamodule import MRCDataModule
from clinprompt.models.mrc_module import MRCModule


def cfg(repo_root, group: str, name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / group / f"{name}.yaml"))


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("synthetic")


def train_one(repo_root, corpus_dir, tmp_path, strategy: str, model: str = "tiny_bert", seed: int = 0):
    dataset = cfg(repo_root, "dataset", "synthetic")
    dataset["loader"].update(cache_dir=str(corpus_dir), n_train=6, n_dev=2, n_test=3)
    dm = MRCDataModule(dataset, cfg(repo_root, "model", model), cfg(repo_root, "strategy", strategy),
                       prompt_len=4, seed=seed, batch_size=8)
    dm.setup("fit")
    lm = MRCModule(cfg(repo_root, "model", model), cfg(repo_root, "strategy", strategy), dm.schema, prompt_len=4,
                   heads={"max_span_width": 16, "dropout": 0.0})
    L.seed_everything(seed)
    trainer = L.Trainer(max_steps=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(lm, datamodule=dm)
    path = tmp_path / f"{strategy}-{seed}.ckpt"
    trainer.save_checkpoint(path)
    return lm, dm, path


def logits(lm: MRCModule, dm: MRCDataModule) -> torch.Tensor:
    from clinprompt.data.collate import collate

    batch = collate(dm.train_examples[:8], dm.pad_id)
    lm.eval()
    with torch.no_grad():
        return lm.net(batch)["start"]


def test_soft_frozen_checkpoint_holds_only_what_trained_and_reloads(repo_root, corpus_dir, tmp_path):
    lm, dm, path = train_one(repo_root, corpus_dir, tmp_path, "soft_frozen")
    ckpt = torch.load(path, weights_only=False)
    assert ckpt["prompt_only"] and not any(k.startswith("net.backbone.") for k in ckpt["state_dict"])
    saved = sum(v.numel() for v in ckpt["state_dict"].values())
    trainable = sum(p.numel() for p in lm.parameters() if p.requires_grad)
    assert saved == trainable  # prompts, marker-free concept heads: exactly the trained parameters
    fresh = MRCModule.load_from_checkpoint(path, weights_only=False)
    assert torch.equal(logits(fresh, dm), logits(lm, dm))


def test_full_strategies_save_the_backbone(repo_root, corpus_dir, tmp_path):
    _, _, path = train_one(repo_root, corpus_dir, tmp_path, "no_prompt")
    ckpt = torch.load(path, weights_only=False)
    assert not ckpt.get("prompt_only") and any(k.startswith("net.backbone.") for k in ckpt["state_dict"])


def test_checkpoint_for_another_backbone_is_refused(repo_root, corpus_dir, tmp_path):
    _, _, path = train_one(repo_root, corpus_dir, tmp_path, "soft_frozen")
    ckpt = torch.load(path, weights_only=False)
    other = dict(ckpt["hyper_parameters"]["model"], init_seed=1)  # same architecture, other weights
    lm = MRCModule(other, ckpt["hyper_parameters"]["strategy"], ckpt["hyper_parameters"]["schema"], prompt_len=4)
    with pytest.raises(ValueError, match="trained on backbone"):
        lm.on_load_checkpoint(ckpt)


def test_predict_applies_two_prompt_sets_on_one_backbone(repo_root, corpus_dir, tmp_path):
    _, dm, a = train_one(repo_root, corpus_dir, tmp_path, "soft_frozen", seed=0)
    _, _, b = train_one(repo_root, corpus_dir, tmp_path, "soft_frozen", seed=1)
    notes = corpus_dir / next(p.name for p in corpus_dir.iterdir() if p.is_dir()) / "test"
    assert predict_main(["--notes", str(notes), "--out", str(tmp_path / "preds"), str(a), str(b)]) == 0
    for name in (a.stem, b.stem):
        anns = sorted((tmp_path / "preds" / name).glob("*.ann"))
        assert [p.stem for p in anns] == sorted(p.stem for p in notes.glob("*.txt"))
        for ann in anns:  # every prediction is valid brat against its note
            read_document(notes / f"{ann.stem}.txt", ann, strict=True)


def test_predict_checks_every_input_before_writing_anything(repo_root, corpus_dir, tmp_path, capsys):
    _, _, good = train_one(repo_root, corpus_dir, tmp_path, "soft_frozen")
    notes = corpus_dir / next(p.name for p in corpus_dir.iterdir() if p.is_dir()) / "test"
    out = tmp_path / "preds"
    empty_ckpt, corrupt = tmp_path / "empty.ckpt", tmp_path / "corrupt.ckpt"
    empty_ckpt.write_bytes(b"")
    corrupt.write_bytes(good.read_bytes()[:1000])
    ckpt = torch.load(good, weights_only=False)
    ckpt["backbone_fingerprint"] = {**ckpt["backbone_fingerprint"], "weights": "0" * 16}  # another backbone
    other = tmp_path / "other.ckpt"
    torch.save(ckpt, other)
    empty_notes = tmp_path / "no_notes"
    empty_notes.mkdir()
    cases = [
        ([str(good), str(tmp_path / "missing.ckpt")], notes, f"{tmp_path / 'missing.ckpt'}: no such checkpoint file"),
        ([str(good), str(empty_ckpt)], notes, f"{empty_ckpt}: not a readable checkpoint (EOFError)"),
        ([str(corrupt)], notes, f"{corrupt}: not a readable checkpoint ("),
        ([str(good), str(other)], notes, f"{other}: trained on backbone"),
        ([str(good)], tmp_path / "nowhere", f"--notes {tmp_path / 'nowhere'}: the folder does not exist"),
        ([str(good)], empty_notes, f"--notes {empty_notes}: no .txt notes in the folder"),
    ]
    for ckpts, folder, expected in cases:
        assert predict_main(["--notes", str(folder), "--out", str(out), *ckpts]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"clinprompt-predict: {expected}"), (expected, err)
        assert not out.exists()  # nothing written, not even the first checkpoint's predictions


def test_predict_writes_best_and_last_of_one_run_into_separate_folders(repo_root, corpus_dir, tmp_path):
    _, _, a = train_one(repo_root, corpus_dir, tmp_path, "soft_frozen", seed=0)
    _, _, b = train_one(repo_root, corpus_dir, tmp_path, "soft_frozen", seed=1)
    run = tmp_path / "run1" / "checkpoints"
    run.mkdir(parents=True)
    (run / "best.ckpt").write_bytes(a.read_bytes())
    (run / "last.ckpt").write_bytes(b.read_bytes())
    notes = corpus_dir / next(p.name for p in corpus_dir.iterdir() if p.is_dir()) / "test"
    out = tmp_path / "preds"
    assert predict_main(["--notes", str(notes), "--out", str(out), str(run / "best.ckpt"), str(run / "last.ckpt")]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["run1_best", "run1_last"]
    n = len(list(notes.glob("*.txt")))
    assert len(list((out / "run1_best").glob("*.ann"))) == len(list((out / "run1_last").glob("*.ann"))) == n
