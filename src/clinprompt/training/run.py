"""One run: compose → data → module → Trainer → fit → test → results.json (+ predictions, checkpoint).

A failure is recorded in the run's own results.json (status "failed") and re-raised, so a multirun
keeps its finished runs and the report lists the failed one."""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from clinprompt.training.accounting import count_parameters, optimizer_state_bytes
from clinprompt.training.preemption import Preempted
from clinprompt.training.results import RunRecord, grid_of

log = logging.getLogger(__name__)


def _instantiate_list(cfg: DictConfig | None) -> list[Any]:
    if not cfg:
        return []
    built = [instantiate(c) for c in cfg.values() if c is not None and "_target_" in c]
    return [b for b in built if b is not None]  # a factory may decide there is nothing to add


def _set_wandb_group(cfg: DictConfig) -> None:
    """Runs of one sweep share a W&B group: the sweep directory's name."""
    wb = (cfg.get("logger") or {}).get("wandb")
    if wb is None or cfg.get("wandb_group"):
        return
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        if hc.mode == RunMode.MULTIRUN:
            with open_dict(cfg):
                cfg.logger.wandb.group = Path(hc.sweep.dir).name
    except ValueError:  # not running under Hydra (tests compose configs directly)
        pass


def _resume_path(run_dir: Path) -> str | None:
    last = run_dir / "checkpoints" / "last.ckpt"
    return str(last) if last.exists() else None


def train(cfg: DictConfig) -> float | None:
    run_dir = Path(cfg.paths.output_dir)
    record = RunRecord(run_dir, grid_of(cfg), OmegaConf.to_container(cfg, resolve=True))
    try:
        return _train(cfg, run_dir, record)
    except BaseException as err:
        record.fail(f"{type(err).__name__}: {err}", traceback.format_exc())
        if isinstance(err, Preempted):  # checkpointed on a signal: the same command resumes it
            record.status = "interrupted"
            record.write()
        raise
    finally:
        _finish_loggers()


def _finish_loggers() -> None:
    # every multirun job gets its own W&B run: close the current one whatever happened
    try:
        import wandb

        if wandb.run is not None:
            wandb.finish()
    except ImportError:
        pass


def _train(cfg: DictConfig, run_dir: Path, record: RunRecord) -> float | None:
    L.seed_everything(cfg.seed, workers=True)
    torch.set_float32_matmul_precision("high")
    t0 = time.perf_counter()
    dm = instantiate(cfg.module.datamodule, _recursive_=False)
    dm.setup("fit")
    extra = {"schema": dm.schema} if hasattr(dm, "schema") else {}
    # the schema is discovered from the data: passed as a Python object, not through OmegaConf
    lm = instantiate(cfg.module.lightning_module, _recursive_=False, _partial_=True)(**extra)
    record.set_params(count_parameters(lm))
    record.timings["setup_s"] = round(time.perf_counter() - t0, 3)
    record.data = getattr(dm, "stats", {})

    _set_wandb_group(cfg)
    loggers = _instantiate_list(cfg.get("logger"))
    callbacks = _instantiate_list(cfg.get("callbacks"))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    for lg in loggers:
        lg.log_hyperparams(record.flat_config())
    record.write()

    ckpt_path = None
    if cfg.strategy.get("train", True):
        t1 = time.perf_counter()
        trainer.fit(lm, datamodule=dm, ckpt_path=_resume_path(run_dir))
        record.timings["train_s"] = round(time.perf_counter() - t1, 3)
        record.params["optimizer_state_bytes"] = optimizer_state_bytes(trainer)
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
        ckpt_path = best or None
        if trainer.interrupted:
            record.status = "interrupted"
            record.write()
            return None
    t2 = time.perf_counter()
    trainer.test(lm, datamodule=dm, ckpt_path=ckpt_path, weights_only=False)
    record.timings["eval_s"] = round(time.perf_counter() - t2, 3)
    if ckpt_path:
        # the dev metrics of the checkpoint we test, not of the last epoch
        trainer.validate(lm, datamodule=dm, ckpt_path=ckpt_path, verbose=False, weights_only=False)
    record.metrics = dict(lm.eval_results)
    record.per_document = getattr(lm, "per_document", {})
    if trainer.is_global_zero:
        n = lm.write_predictions(run_dir / "predictions") if hasattr(lm, "write_predictions") else 0
        record.counts["predicted_documents"] = n
        for lg in loggers:
            lg.log_metrics(record.flat_metrics(), step=trainer.global_step)
        record.finish()
        record.print_table()
    value = record.lookup(cfg.get("optimized_metric"))
    return value
