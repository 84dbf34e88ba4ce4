"""Benchmarks (not tests): ``python -m bench`` runs every ``bench/*_bench.py``'s ``main()``."""
