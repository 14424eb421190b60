"""One module per claim of the paper, discovered by :mod:`verify.registry`.

A claim module defines ``CLAIM`` (its id), ``TITLE``, ``REFERENCE`` (where the paper states it),
``ORDER`` (its place in listings, following the paper) and ``run(config) -> ClaimRun``.
"""
