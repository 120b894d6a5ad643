print("tally-bench: no benchmarks yet")
