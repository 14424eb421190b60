"""The result type shared by every builder of explicit weights."""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from constructions.architectures import Network

__all__ = ["Construction", "Form"]


class Form(enum.StrEnum):
    """Which formula a builder follows: the paper's as printed, or our verified correction."""

    PRINTED = "printed"
    CORRECTED = "corrected"

    @classmethod
    def parse(cls, value) -> Form:
        """``value`` as a :class:`Form`, or ValueError naming it."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"form must be 'printed' or 'corrected', got {value!r}") from None


@dataclass(frozen=True, eq=False)
class Construction:
    """Explicit weights built from a formula of the paper.

    Attributes:
        name: what the weights are, e.g. "memorizing solution".
        reference: where the formula is printed, e.g. "Theorem 4.1, App. A.3.1".
        network: architecture and parameters.
        form: "printed" (the formula exactly as printed) or "corrected" (our verified fix).
        parameters: the free constants that were chosen (epsilon, r, ...).
        notes: numbered deviations from the printed formula and why.
    """

    name: str
    reference: str
    network: Network
    form: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "form", Form.parse(self.form))
        object.__setattr__(self, "parameters", types.MappingProxyType(dict(self.parameters)))
