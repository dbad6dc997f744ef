"""groves benchmarks: ``python -m bench`` (see `bench.__main__`); every figure is a ratio
measured in the same run."""
