"""clinprompt-plan: per-GPU memory of a run before it is submitted, from configs alone (no download).

    clinprompt-plan model=gatortron_8_9b strategy=soft_frozen trainer=gpu batch_size=16
    clinprompt-plan model=gatortron_8_9b strategy=hard_prompt trainer=deepspeed_zero3 batch_size=8
    clinprompt-plan --params-table      # parameter accounting: paper models x strategies x prompt_len
    clinprompt-plan --memory-table      # GB per GPU: paper models x strategies x (gpu, zero2, zero3)
"""

from __future__ import annotations

import argparse
import json
import sys

from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clinprompt-plan", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for train.py")
    parser.add_argument("--params-table", action="store_true", help="print the parameter-accounting table")
    parser.add_argument("--memory-table", action="store_true", help="print the per-GPU memory table")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    args = parser.parse_args(argv)

    from clinprompt.scale import tables
    from clinprompt.scale.compose import compose_config
    from clinprompt.scale.plan import describe, plan_memory, plan_row

    if args.params_table or args.memory_table:
        if args.params_table:
            print(tables.param_table(extra=(*tables.PAPER_DATA, *args.overrides)))
        if args.memory_table:
            print(tables.memory_table(extra=(*tables.PAPER_DATA, "prompt_len=64", *args.overrides)))
        return 0
    from clinprompt.training.validate import validate

    try:
        cfg = compose_config(args.overrides)
        validate(cfg, corpus=False)  # train.py's checks: a value the planner accepts is one a run accepts
        plan, counts = plan_memory(cfg)
    except (ValueError, KeyError, HydraException, OmegaConfBaseException) as err:  # one actionable line
        print(f"clinprompt-plan: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(plan_row(OmegaConf.to_container(cfg, resolve=False), plan, counts), indent=2))
    else:
        print(describe(cfg, plan, counts))
    return 0 if plan.fits else 1


if __name__ == "__main__":
    sys.exit(main())
