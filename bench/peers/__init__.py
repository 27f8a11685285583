"""Peer apps for the side-by-side benchmark (bench/side_by_side.py): "Sign in with Demo Provider"
and a live profile page, each built with one library the way that library's documentation shows.
Benchmark fixtures only: neither the app nor the tests import them.
"""
