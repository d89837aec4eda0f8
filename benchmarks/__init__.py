"""Benchmarks of the rules engine against hand-written baselines (pytest-benchmark, and measure_rules)."""
