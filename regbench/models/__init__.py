"""Network architectures shared by tasks and benchmarks."""
