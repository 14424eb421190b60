"""Pin the public names of each package, so an accidental export is noticed."""

import constructions
import sharpness
import verify

EXPECTED = {
    constructions: {
        "Dataset",
        "dataset_from_arrays",
        "load_dataset",
        "sample_xor",
        "xor_labels",
        "hypercube_points",
        "iter_hypercube",
        "ExtremePointCertificate",
        "NotExtremePointsError",
        "certify_extreme_points",
        "directions_certificate",
        "sphere_directions",
        "MLP",
        "SimLN",
        "SimBN",
        "Network",
        "architecture",
        "Construction",
        "memorizing_solution",
        "memorizing_scalings",
        "four_neuron_solution",
        "printed_r",
        "flattest_r",
        "sim_ln_memorizing_solution",
        "sim_ln_xor_memorizing_solution",
        "sim_ln_four_neuron_solution",
        "random_network",
        "self_labelled",
    },
    sharpness: {
        "mse_loss",
        "hessian_trace",
        "hessian_diagonal",
        "one_sided_traces",
        "gradient_sq_norms",
        "lemma41_trace",
        "JacobianLowerBound",
        "jacobian_lower_bound",
        "eq4_residuals",
        "SimLNLowerBound",
        "sim_ln_lower_bound",
        "EpsilonRange",
        "memorizing_epsilon_range",
        "xor_epsilon_range",
        "Kink",
        "KinkReport",
        "NonDifferentiableError",
        "find_kinks",
        "HypercubeError",
        "SampledHypercubeError",
        "EnumerationTooLargeError",
        "DEFAULT_MAX_POINTS",
        "hypercube_error",
        "sampled_hypercube_error",
        "Tolerance",
        "tolerance_for",
    },
    verify: {
        "ClaimConfig",
        "Claim",
        "ClaimRun",
        "CLAIMS",
        "get_claim",
        "run_claim",
        "save_run",
        "CheckResult",
        "ClaimReport",
        "Evaluation",
        "check_extreme_points",
        "check_interpolation",
        "check_memorization",
        "check_differentiability",
        "check_trace_identity",
        "check_trace_bound",
        "check_bound_respected",
        "check_hypercube_zero_one",
        "check_hypercube_mse",
    },
}


def test_public_names_are_pinned():
    for module, names in EXPECTED.items():
        assert set(module.__all__) == names, module.__name__
        for name in names:
            assert hasattr(module, name)
        assert module.__doc__ and "\n" not in module.__doc__.strip()
