"""Benchmarks of the course (``make bench`` = ``python -m benchmarks``).

Timings live here, not in pass/fail tests: each entry of ``benchmarks/results.json`` records
its goal beside the measurement and whether it was met. See ``__main__.py`` for the entries and
options.
"""
