"""Score a checkpoint in a checkout: `python eval.py ckpt_path=RUN/checkpoints/best.ckpt [split=dev] [overrides]`.
The same as the installed `clinprompt-eval` (clinprompt.cli.eval)."""

from clinprompt.cli.eval import main

if __name__ == "__main__":
    main()
