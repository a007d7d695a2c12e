"""Hydra configs shipped with the package: ``pkg://clinprompt.conf`` (Hydra reads a package only if it has this file)."""
