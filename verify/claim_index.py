"""The claims' ids, titles and paper references, known without importing a claim (or torch).

``verify-theorem --list``, ``--help`` and an unknown claim id are answered from this table, so they
take milliseconds; :mod:`verify.registry` still discovers the claims themselves from
:mod:`verify.claims`. ``tests/verify/test_startup.py`` checks that the two agree entry by entry
(id, title, reference, order and module), so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "CLAIM_IDS",
    "CLAIM_INDEX",
    "PAPERS",
    "ClaimInfo",
    "check_claim_id",
    "claims_of",
    "paper_of",
]


@dataclass(frozen=True)
class ClaimInfo:
    """What ``--list`` shows of one claim, and the module under :mod:`verify.claims` that runs it."""

    id: str
    title: str
    reference: str
    module: str
    order: float


#: Every claim of :data:`verify.registry.CLAIMS`, in the registry's order (by ``ORDER``, then id).
CLAIM_INDEX: tuple[ClaimInfo, ...] = (
    ClaimInfo(
        "3.1",
        "every flattest interpolating 2-MLP-No-Bias generalizes on P_xor (error O~(d/n))",
        "Theorem 3.1; Lemma A.11; App. A.2.4",
        "theorem_3_1",
        30,
    ),
    ClaimInfo(
        "lemma3.1",
        "flattest 2-MLP-No-Bias interpolators have bounded sum_j ||W1,j|| |W2,j| (Theta_C)",
        "Lemma 3.1; Lemma A.4; Lemma A.11; Condition 2; App. A.2.4",
        "lemma_3_1",
        31,
    ),
    ClaimInfo(
        "3.2",
        "near-flattest 2-MLP-Sim-BN interpolators on Condition-1 data generalize and concentrate",
        "Theorem 3.2; Condition 1; Lemmas A.1-A.3 (App. A.1.1)",
        "theorem_3_2",
        32,
    ),
    ClaimInfo(
        "4.1",
        "a memorizing width-n D-layer MLP-Bias is a flattest interpolator (extreme-point data)",
        "Theorem 4.1; Def. 4.1-4.2; Sec. 4.1 proof sketch; App. A.3.1",
        "theorem_4_1",
        40,
    ),
    ClaimInfo(
        "prop4.1",
        "a memorizing flattest 2-MLP-Bias on P_xor has zero-one error max{1 - n/2^d, 0}",
        "Proposition 4.1; Sec. 4.1 proof sketch",
        "proposition_4_1",
        41,
    ),
    ClaimInfo(
        "prop4.2",
        "a flattest 2-MLP-Bias on P_xor with zero zero-one error (Eq. (5))",
        "Proposition 4.2; Eq. (5)",
        "proposition_4_2",
        42,
    ),
    ClaimInfo(
        "lemma4.1",
        "Tr(Hessian of L) = (2/n) sum ||grad f(x_i)||^2 at interpolation; the lower bound holds",
        "Lemma 4.1; Eqs. (1)-(3); App. A.3.1",
        "lemma_4_1",
        43,
    ),
    ClaimInfo(
        "lnsgd",
        "label-noise SGD on 2-MLP-Bias and P_xor: near the Lemma 4.1 bound; memorizes? (beside Fig. 4)",
        "Section 2 (label-noise SGD); Figure 4; Lemma 4.1",
        "label_noise_sgd",
        44,
    ),
    ClaimInfo(
        "5.1",
        "a memorizing width-n 2-MLP-Sim-LN is a flattest interpolator (extreme-point data)",
        "Theorem 5.1; Lemma A.12; App. A.4.1",
        "theorem_5_1",
        50,
    ),
    ClaimInfo(
        "prop5.1",
        "a memorizing flattest 2-MLP-Sim-LN on P_xor has zero-one error max{1 - n/2^d, 0}",
        "Proposition 5.1; Lemma A.12; App. A.4.2",
        "proposition_5_1",
        51,
    ),
    ClaimInfo(
        "prop5.2",
        "a flattest 2-MLP-Sim-LN on P_xor with zero zero-one error (Eq. (18))",
        "Proposition 5.2; Lemma A.12; Eq. (18)",
        "proposition_5_2",
        52,
    ),
    ClaimInfo(
        "A.1",
        "flattest 2-MLP-No-Bias interpolators on Condition-2 data (Gaussian, y = |x1| - |x2|): O~(d/n)",
        "Theorem A.1; Condition 2; Lemmas A.4, A.11 (App. A.2)",
        "theorem_a_1",
        60,
    ),
    ClaimInfo(
        "propA.1",
        "labels on s coordinates of extreme-point data: a flattest 2-MLP-Bias with zero error",
        "Proposition A.1; Eq. (16); App. A.3.2",
        "proposition_a_1",
        61,
    ),
    ClaimInfo(
        "propA.2",
        "circle data, Lipschitz labels: Eq. (17) repaired is flattest; the O(delta^2) bound is unproven",
        "Proposition A.2; Eq. (17); App. A.3.3",
        "proposition_a_2",
        62,
    ),
    ClaimInfo(
        "chen.sgd-benign",
        "SGD overfits benignly when n||mu||^4 >= C1 d P^4 sigma_p^4: test error <= p + eps",
        "Chen et al. (2023), Thm. 4.1; Kou et al. (2023), Thm. 4.2",
        "chen_sgd_benign",
        110,
    ),
    ClaimInfo(
        "chen.sgd-harmful",
        "SGD overfits harmfully when n||mu||^4 <= C3 d P^4 sigma_p^4; boundary (d/n)^{1/4}",
        "Chen et al. (2023), Thm. 4.1; Kou et al. (2023), Thm. 4.3",
        "chen_sgd_harmful",
        111,
    ),
    ClaimInfo(
        "chen.sam",
        "SAM is benign where SGD is harmful; SAM keeps max|rho| small early while gamma grows",
        "Chen et al. (2023), Thm. 4.2; Sec. 5 (proof sketch)",
        "chen_sam",
        112,
    ),
)

#: The claim ids, in registry order.
CLAIM_IDS: tuple[str, ...] = tuple(c.id for c in CLAIM_INDEX)

#: The papers whose claims are checked: Wen, Li & Ma (2023), the toolkit's first paper, and
#: Chen et al. (2023), whose claims' ids start with ``chen.``.
PAPERS: tuple[str, ...] = ("wen2023", "chen2023")


def paper_of(claim_id: str) -> str:
    """The paper (one of :data:`PAPERS`) that states the claim ``claim_id``."""
    return "chen2023" if claim_id.startswith("chen.") else "wen2023"


def claims_of(paper: str, known: Iterable[str] = CLAIM_IDS) -> tuple[str, ...]:
    """The ids of ``known`` stated by ``paper`` (one of :data:`PAPERS`, or ``"every"``).

    Raises:
        ValueError: for an unknown paper.
    """
    if paper != "every" and paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; known: {', '.join(PAPERS)}, every")
    return tuple(c for c in known if paper in ("every", paper_of(c)))


def check_claim_id(claim_id: str, known: Iterable[str] = CLAIM_IDS) -> str:
    """Return ``claim_id`` if it is one of ``known``.

    Raises:
        ValueError: for an unknown id, listing the known ones.
    """
    known = tuple(known)
    if claim_id not in known:
        raise ValueError(
            f"unknown claim id {claim_id!r}; known: {', '.join(known)} (see verify-theorem --list)"
        )
    return claim_id
