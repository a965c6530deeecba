print("kestrel-bench: no benchmarks yet")
