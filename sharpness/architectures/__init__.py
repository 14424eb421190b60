"""The architectures the toolkit knows, one module each, registered in :mod:`sharpness.registry`.

* :mod:`~sharpness.architectures.mlp`: D-layer MLP, bias in the first layer or none, ReLU or softplus;
* :mod:`~sharpness.architectures.mlp_output_bias`: the same with an output bias (PyTorch's default);
* :mod:`~sharpness.architectures.sim_ln`: 2-MLP-Sim-LN (Scenario III);
* :mod:`~sharpness.architectures.sim_bn`: 2-MLP-Sim-BN (Scenario I);
* :mod:`~sharpness.architectures.signal_noise_cnn`: the two-layer CNN of Chen et al. (2023).

Adding an architecture is one module here that registers an
:class:`~sharpness.registry.ArchitectureOps`, and one line below.
"""

from sharpness.architectures import mlp, mlp_output_bias, signal_noise_cnn, sim_bn, sim_ln
from sharpness.registry import ArchitectureOps, ops_for, registered

__all__ = [
    "ArchitectureOps",
    "mlp",
    "mlp_output_bias",
    "ops_for",
    "registered",
    "signal_noise_cnn",
    "sim_bn",
    "sim_ln",
]
