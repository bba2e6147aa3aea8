"""Nudge's benchmarks: ``python -m bench`` (or ``make bench``) runs them all.

Each benchmark measures one thing against a floor taken in the same run, on the same
machine, with the two sides interleaved and warm-ups left out, and prints p50/p99 and
the ratio. Results also go to ``.nudge/bench/latest.json``.
"""
