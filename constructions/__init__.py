"""Explicit weights from Wen, Li & Ma (NeurIPS 2023): data, architectures and constructions."""

from importlib.metadata import version as _metadata_version

from constructions.architectures import MLP, Network, SimBN, SimLN, architecture
from constructions.construction import Construction, Form
from constructions.dataset import Dataset, dataset_from_arrays, load_dataset
from constructions.extreme_points import (
    ExtremePointCertificate,
    NotExtremePointsError,
    certify_extreme_points,
    directions_certificate,
    sphere_directions,
)
from constructions.four_neuron import flattest_r, four_neuron_solution, printed_r
from constructions.hypercube import hypercube_points, iter_hypercube, sample_xor, xor_labels
from constructions.memorizing import memorizing_scalings, memorizing_solution
from constructions.no_bias import a24_solution
from constructions.param_files import ParamFile, load_network, load_params
from constructions.random_networks import random_network, self_labelled
from constructions.sim_bn import (
    Condition1Report,
    check_condition1,
    concentration,
    condition1_dataset,
    lemma_a1_solution,
    near_flattest_sim_bn,
    theorem_3_2_counterexample,
)
from constructions.sim_ln import (
    sim_ln_four_neuron_solution,
    sim_ln_memorizing_solution,
    sim_ln_xor_memorizing_solution,
)
from constructions.torch_interop import from_state_dict, from_torch, to_state_dict, to_torch

__version__ = _metadata_version("flatness-toolkit")

__all__ = [
    "__version__",
    # data (Section 2)
    "Dataset",
    "dataset_from_arrays",
    "load_dataset",
    "sample_xor",
    "xor_labels",
    "hypercube_points",
    "iter_hypercube",
    # Definition 4.1
    "ExtremePointCertificate",
    "NotExtremePointsError",
    "certify_extreme_points",
    "directions_certificate",
    "sphere_directions",
    # architectures (Section 2)
    "MLP",
    "SimLN",
    "SimBN",
    "Network",
    "architecture",
    # constructions
    "Construction",
    "Form",
    "memorizing_solution",
    "memorizing_scalings",
    "four_neuron_solution",
    "printed_r",
    "flattest_r",
    # 2-MLP-No-Bias (Theorem 3.1, App. A.2.4)
    "a24_solution",
    # 2-MLP-Sim-BN (Theorem 3.2, Condition 1, Lemma A.1)
    "Condition1Report",
    "check_condition1",
    "condition1_dataset",
    "lemma_a1_solution",
    "near_flattest_sim_bn",
    "theorem_3_2_counterexample",
    "concentration",
    # 2-MLP-Sim-LN (Theorem 5.1, Propositions 5.1-5.2)
    "sim_ln_memorizing_solution",
    "sim_ln_xor_memorizing_solution",
    "sim_ln_four_neuron_solution",
    # random interpolators
    "random_network",
    "self_labelled",
    # bring your own model: torch.nn and parameter files
    "from_torch",
    "to_torch",
    "from_state_dict",
    "to_state_dict",
    "load_network",
    "load_params",
    "ParamFile",
]
