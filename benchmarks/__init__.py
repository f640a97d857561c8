"""On-demand benchmarks (not part of the test-suite). See benchmarks/README.md."""
