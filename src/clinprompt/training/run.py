"""One run: validate → claim the run directory → data → module → Trainer → fit → test → results.json.
``train``, ``test`` and ``ckpt_path`` choose the steps: resume from a checkpoint, test one without training, or
train without testing. ``evaluate`` (clinprompt-eval) scores a checkpoint on one split in a run directory of its own.

A failure is recorded in the run's own results.json (status "failed", the innermost exception's one line
and a hint), the traceback goes to error.log, and a one-line ``RunFailed`` is raised: Hydra prints just
that line, and a multirun keeps its finished runs and ends with a summary (``SweepSummary``)."""

from __future__ import annotations

import logging
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from clinprompt.training import run_dir as rundir
from clinprompt.training.accounting import count_parameters, optimizer_state_bytes
from clinprompt.training.failures import RunFailed, root_cause
from clinprompt.training.heartbeat import Heartbeat
from clinprompt.training.preemption import Preempted
from clinprompt.training.results import RunRecord, grid_of
from clinprompt.training.validate import ConfigError, validate, validate_schema

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


def check_checkpoint(ckpt: str | None) -> None:
    if ckpt and not Path(ckpt).is_file():
        raise ConfigError(f"ckpt_path={ckpt}: no such file; give a Lightning checkpoint, e.g. "
                          "ckpt_path=outputs/RUN/checkpoints/best.ckpt (relative to the current directory)")


def check_modes(cfg: DictConfig) -> None:
    """``train``/``test``/``ckpt_path`` values that cannot work, refused before anything is built."""
    check_checkpoint(cfg.get("ckpt_path"))
    if not fits(cfg) and not cfg.get("test", True):
        why = "train=false" if not cfg.get("train", True) else f"strategy={cfg.strategy.get('name')} does not train"
        raise ConfigError(f"{why} and test=false: nothing to do; train=false ckpt_path=CKPT tests a checkpoint")


def fits(cfg: DictConfig) -> bool:
    """Whether the run trains: ``train=false`` tests only, and so does a strategy that never trains (a zero-shot
    baseline such as qa_base)."""
    return bool(cfg.get("train", True)) and bool(cfg.strategy.get("train", True))


def _clear_csv(loggers: list[Any]) -> None:
    from clinprompt.training.csv_log import ResumableCSVLogger

    for lg in loggers:
        if isinstance(lg, ResumableCSVLogger):
            lg.truncate(0)


def train(cfg: DictConfig) -> float | None:
    run_dir = Path(cfg.paths.output_dir)
    config: dict | None = None
    try:
        config = OmegaConf.to_container(cfg, resolve=True)
        validate(config)
        check_modes(cfg)
        fingerprint, previous = rundir.claim(run_dir, config)
    except rundir.RunDirConflict as err:  # another config's directory: nothing in it is written
        _stop(str(err).splitlines()[0], err)
    except Exception as err:
        line = _one_line(err)
        if not (run_dir / "results.json").exists():  # a fresh directory records why the run never started
            RunRecord(run_dir, grid_of(cfg), config or {}).fail(line, traceback.format_exc(),
                                                                 f"fix the config value named above; {_HINT}")
        _stop(line, err)
    if previous == "finished" and not cfg.get("rerun", False):
        line = (f"finished: {run_dir} already holds this config's finished run (config {fingerprint}); "
                "rerun=true trains it again")
        log.info(line)
        print(line)
        return RunRecord.stored_metric(run_dir, cfg.get("optimized_metric"))
    if previous == "finished":  # rerun=true: train from scratch, not from the finished run's last.ckpt
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    record = RunRecord(run_dir, grid_of(cfg), config, fingerprint)
    try:
        return _train(cfg, run_dir, record)
    except BaseException as err:
        line = _one_line(err)
        record.fail(line, traceback.format_exc(), getattr(root_cause(err), "hint", None) or _HINT)
        if isinstance(err, Preempted):  # checkpointed on a signal: the same command resumes it
            record.status = "interrupted"
            record.write()
        if isinstance(err, Exception):
            _stop(line, err)
        raise
    finally:
        _finish_loggers()


_HINT = "the full traceback is in the run directory's error.log"


def _one_line(err: BaseException) -> str:
    root = root_cause(err)
    text = str(root).strip()
    return f"{type(root).__name__}: {text.splitlines()[0]}" if text else type(root).__name__


def _stop(line: str, err: Exception) -> None:
    """One line on the console. A single run exits here (Hydra would frame the line with two more); a
    multirun job logs it and raises, so the sweep goes on and its summary lists it."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # not under Hydra (tests compose configs directly)
        raise RunFailed(line) from err
    if not multirun:
        print(line, file=sys.stderr, flush=True)
        logging.shutdown()
        sys.exit(1)
    log.error(line)
    raise RunFailed(line) from err


def _finish_loggers() -> None:
    # every multirun job gets its own W&B run: close the current one whatever happened
    try:
        import wandb

        if wandb.run is not None:
            wandb.finish()
    except ImportError:
        pass


def build(cfg: DictConfig, record: RunRecord) -> tuple[L.LightningDataModule, L.LightningModule, L.Trainer, list]:
    """The DataModule (set up), the LightningModule, the Trainer and its loggers of a run; a training run and
    clinprompt-eval build them alike, so a checkpoint is scored on exactly the data and model it was trained on."""
    L.seed_everything(cfg.seed, workers=True)
    torch.set_float32_matmul_precision("high")
    t0 = time.perf_counter()
    dm = instantiate(cfg.module.datamodule, _recursive_=False)
    dm.setup("fit")
    if hasattr(dm, "schema"):
        validate_schema(cfg.task, tuple(dm.schema.relation_types), cfg.dataset.get("name"))
    extra = {"schema": dm.schema} if hasattr(dm, "schema") else {}
    # the schema is discovered from the data: passed as a Python object, not through OmegaConf
    lm = instantiate(cfg.module.lightning_module, _recursive_=False, _partial_=True)(**extra)
    record.set_params(count_parameters(lm))
    record.timings["setup_s"] = round(time.perf_counter() - t0, 3)
    record.data = getattr(dm, "stats", {})

    _set_wandb_group(cfg)
    loggers = _instantiate_list(cfg.get("logger"))
    callbacks = _instantiate_list(cfg.get("callbacks"))
    callbacks.append(Heartbeat(record, float(cfg.get("heartbeat_s") or 60)))
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    return dm, lm, trainer, loggers


def _train(cfg: DictConfig, run_dir: Path, record: RunRecord) -> float | None:
    dm, lm, trainer, loggers = build(cfg, record)
    own = _resume_path(run_dir)
    if own is None:  # a fresh start (also after a kill before the first checkpoint): no old log rows
        _clear_csv(loggers)
    # the run directory's own last.ckpt is the latest state of this config; else the checkpoint given
    resume = own or cfg.get("ckpt_path")
    for lg in loggers:
        lg.log_hyperparams(record.flat_config())
    record.write()

    if fits(cfg):
        record.checkpoint["resumed_from"] = str(Path(resume).resolve()) if resume else None
        t1 = time.perf_counter()
        trainer.fit(lm, datamodule=dm, ckpt_path=resume)
        record.timings["train_s"] = round(time.perf_counter() - t1, 3)
        record.params["optimizer_state_bytes"] = optimizer_state_bytes(trainer)
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
        ckpt_path = best or None
        if trainer.interrupted:
            record.status = "interrupted"
            record.write()
            return None
    else:  # test the given checkpoint, or (none given) the module as built, e.g. a zero-shot baseline
        ckpt_path = cfg.get("ckpt_path")
    if cfg.get("test", True):
        t2 = time.perf_counter()
        trainer.test(lm, datamodule=dm, ckpt_path=ckpt_path, weights_only=False)
        record.timings["eval_s"] = round(time.perf_counter() - t2, 3)
        # None: the weights in memory at the end of training (no checkpoint callback) or as built
        record.checkpoint["tested"] = str(Path(ckpt_path).resolve()) if ckpt_path else None
    if ckpt_path:
        # the dev metrics of the checkpoint we test, not of the last epoch
        trainer.validate(lm, datamodule=dm, ckpt_path=ckpt_path, verbose=False, weights_only=False)
    record.metrics = dict(lm.eval_results)
    record.per_document = getattr(lm, "per_document", {})
    if trainer.is_global_zero:
        tested = cfg.get("test", True) and hasattr(lm, "write_predictions")
        n = lm.write_predictions(run_dir / "predictions") if tested else 0
        record.counts["predicted_documents"] = n
        for lg in loggers:
            lg.log_metrics(record.flat_metrics(), step=trainer.global_step)
        record.finish()
        record.print_table()
    return optimized_value(trainer, cfg.get("optimized_metric"))


def optimized_value(trainer: L.Trainer, key: str | None) -> float | None:
    """What a Hydra sweeper (Optuna) receives: the metric as Lightning last logged it (``callback_metrics``; after
    the tested checkpoint's re-validation, its dev value), None when that key was not logged."""
    value = trainer.callback_metrics.get(key) if key else None
    return float(value) if value is not None else None


# ---- clinprompt-eval: one checkpoint scored on one split ---------------------------------------------------------
SPLITS = ("test", "dev")
_EVAL_HINT = ("the data, model and strategy overrides must be the ones the checkpoint was trained with (its run "
              "directory's .hydra/overrides.yaml); " + _HINT)


def check_eval(cfg: DictConfig) -> None:
    """clinprompt-eval's own keys: a checkpoint that exists and a split it can score."""
    if not cfg.get("ckpt_path"):
        raise ConfigError("ckpt_path is required: clinprompt-eval ckpt_path=outputs/RUN/checkpoints/best.ckpt "
                          "(with the overrides that run was trained with)")
    if cfg.get("split") not in SPLITS:
        raise ConfigError(f"split={cfg.get('split')!r}: clinprompt-eval scores split=test or split=dev")
    check_checkpoint(cfg.ckpt_path)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Score ``ckpt_path`` on ``split`` and write results.json (metrics of that split, the checkpoint scored) in
    the run directory; returns what was written. Failures are recorded and reported as a training run's are."""
    run_dir = Path(cfg.paths.output_dir)
    record = RunRecord(run_dir, grid_of(cfg), {})
    try:
        check_eval(cfg)
        record.config = OmegaConf.to_container(cfg, resolve=True)
        validate(record.config)
    except Exception as err:
        line = _one_line(err)
        record.fail(line, traceback.format_exc(), f"fix the config value named above; {_HINT}")
        _stop(line, err)
    try:
        return _evaluate(cfg, run_dir, record)
    except BaseException as err:
        line = _one_line(err)
        record.fail(line, traceback.format_exc(), getattr(root_cause(err), "hint", None) or _EVAL_HINT)
        if isinstance(err, Exception):
            _stop(line, err)
        raise
    finally:
        _finish_loggers()


def _evaluate(cfg: DictConfig, run_dir: Path, record: RunRecord) -> dict[str, Any]:
    dm, lm, trainer, loggers = build(cfg, record)
    split, ckpt = str(cfg.split), str(Path(cfg.ckpt_path).resolve())
    record.checkpoint["tested"] = ckpt
    for lg in loggers:
        lg.log_hyperparams(record.flat_config())
    record.write()
    t0 = time.perf_counter()
    score = trainer.test if split == "test" else trainer.validate
    score(lm, datamodule=dm, ckpt_path=ckpt, weights_only=False)
    record.timings["eval_s"] = round(time.perf_counter() - t0, 3)
    record.metrics = {split: lm.eval_results[split]}
    record.per_document = {k: v for k, v in getattr(lm, "per_document", {}).items() if k == split}
    if trainer.is_global_zero:
        # the modules keep per-document predictions for the test split only
        n = lm.write_predictions(run_dir / "predictions") if split == "test" and hasattr(lm, "write_predictions") else 0
        record.counts["predicted_documents"] = n
        for lg in loggers:
            lg.log_metrics(record.flat_metrics(), step=0)
        record.finish()
    return record.to_dict()
