"""The ``groves`` command line."""

from groves.cli.app import app, main

__all__ = ["app", "main"]
