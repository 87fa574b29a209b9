"""Project exceptions: every failure names the sample or file it concerns.

Two kinds, handled differently by the model class: a `DataError` is about one sample's own
data (its video is missing or corrupt, its token layout is not what the processor makes,
its clip is too short for the method's budget); that sample is recorded as failed and the
run goes on. Anything else, `ConfigError` and every other exception included, is a bug or a
bad setup: it stops the run with its traceback and a non-zero exit (`seats-eval eval`).
"""

from __future__ import annotations


class SeatsError(Exception):
    """Base class for errors raised by seats-eval."""


class ConfigError(SeatsError, ValueError):
    """A model argument, method option or config value is invalid."""


class DataError(SeatsError):
    """One sample's own data cannot be used; the message names the sample or file."""


class MediaError(DataError):
    """A video or audio file is missing, corrupt or unusable; the message names the file."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"{path}: {cause}")
        self.path = path
        self.cause = cause


class LayoutError(DataError):
    """The token sequence does not match the expected Qwen-Omni interleaving."""


class SeamError(SeatsError):
    """transformers hands the model's modules something seats-eval does not recognise (a renamed
    keyword, an unknown sequence-long input, a cache of another kind): the run stops loudly
    instead of computing something else (runtime/layer_call.py, the adapters' encoder hooks)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"transformers {transformers_version()}: {what}. seats-eval prunes through hooks on "
                         "the stock decoder layers and refuses to run a call it cannot read; install a "
                         "transformers version in the range pyproject.toml names, or report this release")


def transformers_version() -> str:
    import transformers

    return transformers.__version__
