"""`python -m benchmarks`: the national-scale benchmark (see benchmarks/national.py)."""

from benchmarks.national import main

main()
