"""Layer 1: pure numpy kernels on arrays (no xarray). The last two axes are (y, x)."""
