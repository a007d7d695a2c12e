"""Evaluate one fixed tiny model on the test split with WORLD processes (Lightning DDP over gloo on CPU) and
write what rank 0 reports (run by test_multiprocess.py in a subprocess; Lightning re-launches this script).

usage: python eval_world.py WORLD CORPUS_DIR OUT_JSON"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L
from omegaconf import OmegaConf

from clinprompt.config import conf_dir


def cfg(group: str, name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / group / f"{name}.yaml"))


def main(world: int, corpus_dir: str, out: str) -> None:
    from clinprompt.data.datamodule import MRCDataModule
    from clinprompt.models.mrc_module import MRCModule

    dataset = cfg("dataset", "synthetic")
    # 5 test documents, 2 per step: ranks get 3 and 2 documents, 2 and 1 steps (uneven on purpose)
    dataset["loader"].update(cache_dir=corpus_dir, n_train=2, n_dev=2, n_test=5)
    model, strategy = cfg("model", "tiny_bert"), cfg("strategy", "hard_prompt")
    dm = MRCDataModule(dataset, model, strategy, task="end_to_end", seed=0, batch_size=8, eval_docs_per_step=2)
    dm.setup("test")
    lm = MRCModule(model, strategy, dm.schema, task="end_to_end", heads={"dropout": 0.0})  # same init everywhere
    trainer = L.Trainer(accelerator="cpu", devices=world, strategy="ddp" if world > 1 else "auto", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        use_distributed_sampler=False, default_root_dir=str(Path(out).parent))
    trainer.test(lm, datamodule=dm, verbose=False)
    if trainer.is_global_zero:
        res = lm.eval_results["test"]
        Path(out).write_text(json.dumps({"world": trainer.world_size,
                                         "metrics": {k: res[k] for k in ("concepts", "relations") if k in res},
                                         "per_document": sorted(lm.per_document.get("test", {}))}, default=str))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
