"""C kernels of the exact hypercube enumeration (shipped source, compiled on first use)."""

from sharpness.hypercube.kernels.cube_relu2 import (
    CubeKernel,
    KernelUnavailableError,
    load_cube_kernel,
    max_form_output_bound,
)

__all__ = ["CubeKernel", "KernelUnavailableError", "load_cube_kernel", "max_form_output_bound"]
