"""Hydra configs shipped with the package, found as ``pkg://clinprompt.conf`` (Hydra needs this file to read them)."""
