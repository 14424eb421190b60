"""Subcommands of ``verify-theorem`` other than single claims, discovered by :mod:`verify.cli`.

A command module defines ``NAMES`` (the words that invoke it, e.g. ("errata",)), ``HELP`` (one
line), ``ORDER``, ``add_arguments(parser)`` and ``run(args) -> int`` (the exit code).
"""
