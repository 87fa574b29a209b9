"""Project exceptions: every failure names the sample or file it concerns."""

from __future__ import annotations


class SeatsError(Exception):
    """Base class for errors raised by seats-eval."""


class ConfigError(SeatsError, ValueError):
    """A model argument, method option or config value is invalid."""


class MediaError(SeatsError):
    """A video or audio file is missing, corrupt or unusable; the message names the file."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"{path}: {cause}")
        self.path = path
        self.cause = cause


class LayoutError(SeatsError):
    """The token sequence does not match the expected Qwen-Omni interleaving."""
