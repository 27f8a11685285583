"""Benchmarks of the token lifecycle on a real deployment, run by `python -m bench`: each module
measures one figure and returns it with its goal; bench/results/latest.md keeps the last table.
"""
