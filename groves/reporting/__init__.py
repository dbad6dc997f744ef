"""Reporting: run summaries, timing statistics, cost, plots, and reading runs back."""
