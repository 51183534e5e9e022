"""Benchmarks of workflow_core_module against APScheduler and raw SQL: `python -m bench`."""
