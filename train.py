"""clinprompt entry point in a checkout: `python train.py [overrides]`, `python train.py -m key=a,b ...` for sweeps.
The same as the installed `clinprompt-train` (clinprompt.cli.train); the configs are in src/clinprompt/conf."""

from clinprompt.cli.train import main

if __name__ == "__main__":
    main()
