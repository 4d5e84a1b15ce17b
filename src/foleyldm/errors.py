"""Errors a user can act on. The CLI prints their message as one line and exits non-zero."""

from __future__ import annotations


class FoleyError(Exception):
    """Base class of foleyldm's user-facing errors."""


class InvalidInputError(FoleyError, ValueError):
    """A bad argument: empty prompt, absurd duration, unknown sampler, wrong shapes."""


class ModelNotFoundError(FoleyError, FileNotFoundError):
    """A model name, folder or hub id that cannot be resolved or loaded."""


class CheckpointError(FoleyError, ValueError):
    """A checkpoint whose contents do not match what the loader expects."""
