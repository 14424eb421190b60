"""Per-architecture operations (Hessian diagonal, kinks, bounds, hypercube decider), registered once."""
