"""The C kernels of the batch-size-1 engines: shipped sources (one_sam.c/.h, sim_bn.c/.h), build cache, ABI."""

from sharpness.training.kernels.one_sam import (
    Kernel,
    KernelLayoutError,
    KernelUnavailableError,
    OneSamArgs,
    check_layout,
    load_kernel,
    source_text,
)

__all__ = [
    # loading
    "Kernel",
    "load_kernel",
    "source_text",
    # the struct of named arguments
    "OneSamArgs",
    "check_layout",
    # errors
    "KernelLayoutError",
    "KernelUnavailableError",
]
