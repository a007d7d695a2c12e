"""Every paper-sized study config composes for every point of its sweep (model, strategy, prompt length, shots,
site ...) without running; the CPU twins and the Optuna search compose too."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, open_dict

from clinprompt.config import conf_dir

REPO = Path(__file__).resolve().parents[2]
CONF = conf_dir()
STUDIES = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml") if not p.stem.startswith("pubmedqa"))
PAPER = [s for s in STUDIES if s.startswith("paper_")]
CPU = [s for s in STUDIES if s.startswith("cpu_")]


def _needs(study: str) -> str | None:
    text = (CONF / "experiment" / f"{study}.yaml").read_text()
    if "override /dataset: sdoh" in text and not (CONF / "dataset" / "sdoh.yaml").exists():
        return "conf/dataset/sdoh.yaml is not there yet"
    return None


@pytest.fixture(scope="module", autouse=True)
def _hydra():
    """One Hydra initialisation for the module: every compose below reuses it."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield
    GlobalHydra.instance().clear()


def _compose(overrides: list[str]):
    cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):  # what Hydra fills in when a job starts
        cfg.hydra.runtime.output_dir = "/tmp/clinprompt-compose"
        cfg.hydra.runtime.cwd = str(REPO)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


def _sweep(cfg) -> dict[str, list]:
    """The study's sweep as {key: [values]}, parsed the way Hydra's basic sweeper parses it."""
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    parser = OverridesParser.create()
    out = {}
    for key, spec in params.items():
        override = parser.parse_override(f"{key}={spec}")
        out[key] = list(override.sweep_string_iterator()) if override.is_sweep_override() else [spec]
    return out


def _check_point(study: str, point: dict[str, str]) -> None:
    cfg = _compose([f"experiment={study}", *(f"{k}={v}" for k, v in point.items())])
    plain = OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    for key, value in point.items():
        node = plain
        for part in key.split("."):
            node = node[part]
        got = node["name"] if key in ("model", "strategy", "dataset") else node
        assert str(got if got is not None else "null") == str(value), (study, key, value, got)


@pytest.mark.parametrize("study", PAPER)
def test_paper_study_composes_at_every_point_of_its_sweep(study: str) -> None:
    """Every model x strategy pair of the sweep, and every value of each other swept key (prompt_len, shots,
    learning rate, seed, fold) within the study, composes and resolves to the requested value. Config groups
    only interact through model x strategy (prompt and freezing options), so the other keys are not multiplied."""
    if reason := _needs(study):
        pytest.skip(reason)
    sweep = _sweep(_compose([f"experiment={study}"]))
    assert "strategy" in sweep or "fold" in sweep, f"{study}: sweeps neither strategies nor CV folds"
    paired = [k for k in ("model", "strategy") if k in sweep]
    for values in itertools.product(*(sweep[k] for k in paired)):
        _check_point(study, dict(zip(paired, values, strict=True)))
    for key in set(sweep) - set(paired):
        for value in sweep[key]:
            _check_point(study, {key: value})


@pytest.mark.parametrize("study", STUDIES)
def test_study_values_win_over_the_root_defaults(study: str) -> None:
    """A study's own top-level settings (task, prompt_len, shots, batch_size ...) reach the composed config."""
    if reason := _needs(study):
        pytest.skip(reason)
    own = OmegaConf.load(CONF / "experiment" / f"{study}.yaml")
    cfg = _compose([f"experiment={study}"])
    checked = 0
    for key in ("task", "prompt_len", "shots", "batch_size", "seed"):
        if key in own:
            assert cfg[key] == own[key], f"{study}: {key}={cfg[key]}, the study sets {own[key]}"
            checked += 1
    for key, value in OmegaConf.to_container(own).get("dataset", {}).items():
        if not isinstance(value, dict):
            assert cfg.dataset[key] == value, f"{study}: dataset.{key}"
            checked += 1
    assert checked or "strategy" in _sweep(cfg)


@pytest.mark.parametrize("study", CPU)
def test_cpu_study_runs_minilm_on_a_local_corpus(study: str) -> None:
    cfg = _compose([f"experiment={study}"])
    assert cfg.model.name == "minilm" and cfg.dataset.name in ("ade", "synthetic")
    sweep = _sweep(cfg)
    first = {k: v[0] for k, v in sweep.items()}
    _check_point(study, first)


def test_paper_main_table_covers_every_model_and_strategy() -> None:
    sweep = _sweep(_compose(["experiment=paper_main_n2c2"]))
    encoders = {p.stem for p in (CONF / "model").glob("*.yaml")
                if "t5" not in p.stem and not p.stem.startswith("tiny") and p.stem != "minilm"}
    assert set(sweep["model"]) == encoders  # every paper encoder (the seq2seq ones are the PubMedQA study's)
    assert sweep["strategy"] == ["no_prompt", "hard_prompt", "soft_unfrozen", "soft_frozen"]


def test_optuna_search_composes_over_existing_keys() -> None:
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override

    cfg = _compose(["hparams_search=optuna", "strategy=soft_frozen"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert cfg.optimized_metric == "dev/concepts/strict/micro/f1"
    parser = OverridesParser.create()
    plain = OmegaConf.to_container(cfg, resolve=True)
    for key, spec in sweeper.params.items():
        dist = create_optuna_distribution_from_override(parser.parse_override(f"{key}={spec}"))
        assert dist is not None
        node = plain
        for part in key.split("."):
            node = node[part]   # the searched key exists in the composed config (KeyError otherwise)
    assert {"strategy.lr.prompt", "strategy.lr.head", "prompt_len"} <= set(sweeper.params)
    assert "strategy.lr.backbone" not in sweeper.params   # the searched strategy freezes the backbone
    assert _compose(["hparams_search=optuna"]).strategy.name == "soft_frozen"   # the search's own strategy
