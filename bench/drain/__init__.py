"""The drain benchmark's throttle model and consumers; bench/bench_drain.py runs them."""
