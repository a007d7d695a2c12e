"""What every benchmark shares: machine info, result JSON, tables, the composed config and the
environment train.py subprocesses need. Benchmarks run as scripts (`python benchmarks/<name>.py`), so
this module is imported from the script's own folder."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
OFFLINE_ENV = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)
os.environ.setdefault("CLINPROMPT_DATA_DIR", str(REPO.parent / "shared" / "data"))
LOAD_AT_START = os.getloadavg()[0]  # other processes' load when the benchmark started


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="a tiny version that runs in seconds (tiny_bert, few docs)")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="where the JSON goes (default benchmarks/results; --smoke writes <name>.smoke.json)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads, here and in child processes (OMP_NUM_THREADS); 0 = torch's default")
    return p


def parse(p: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse and apply --threads. On a shared, oversubscribed CPU two OpenMP threads per process spin
    against each other (measured here: a tiny_bert step 7.1 s with 2 threads, 0.65 s with 1)."""
    args = p.parse_args()
    if args.threads > 0:
        import torch

        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)
    return args


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict[str, Any]:
    """The machine a figure was measured on, including the load other processes put on it."""
    import torch

    return {
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count() or 0,
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_result(name: str, args: argparse.Namespace, config: dict[str, Any], rows: list[dict[str, Any]],
                 summary: dict[str, Any], started: float, notes: Sequence[str] = ()) -> Path:
    """``<out-dir>/<name>.json``: machine, what was run (config), one row per measurement, the summary."""
    machine = machine_info()
    machine["load_average_1m_end"] = machine.pop("load_average_1m")
    machine["load_average_1m_start"] = round(LOAD_AT_START, 2)
    payload = {
        "benchmark": name,
        "smoke": bool(args.smoke),
        "command": " ".join([Path(sys.executable).name, *[_rel(a) for a in sys.argv]]),
        "machine": machine,
        "config": config,
        "rows": rows,
        "summary": summary,
        "notes": list(notes),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    out_dir = args.out_dir or RESULTS
    path = out_dir / (f"{name}.smoke.json" if args.smoke and args.out_dir is None else f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    print(f"\nwrote {path}")
    return path


def _rel(arg: str) -> str:
    try:
        return str(Path(arg).resolve().relative_to(REPO)) if arg.endswith(".py") else arg
    except ValueError:
        return arg


def table(rows: list[dict[str, Any]], columns: Sequence[str], title: str = "") -> str:
    """A markdown table of ``columns`` from ``rows`` (floats to 4 significant digits)."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "—" if v is None else str(v)

    lines = [f"\n{title}"] if title else []
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    return text


def summarise(samples: Sequence[float]) -> dict[str, float]:
    """Mean, median, standard deviation and count of timing samples (seconds)."""
    return {"mean_s": statistics.fmean(samples), "median_s": statistics.median(samples),
            "stdev_s": statistics.stdev(samples) if len(samples) > 1 else 0.0, "n": len(samples)}


def compose(overrides: Sequence[str], cache_dir: Path | None = None):
    """The run config train.py would compose for these overrides. Outside a Hydra app the run-directory
    keys cannot resolve, so paths point at ``cache_dir`` (default $CLINPROMPT_CACHE_DIR,
    else the repo's .cache, as the shipped paths/default.yaml)."""
    from clinprompt.scale.compose import compose_config

    cache = str(cache_dir or os.environ.get("CLINPROMPT_CACHE_DIR") or REPO / ".cache")
    paths = [f"paths.cache_dir={cache}", f"paths.output_dir={cache}/bench_run",
             f"paths.data_dir={os.environ['CLINPROMPT_DATA_DIR']}"]
    return compose_config([*paths, *overrides])
