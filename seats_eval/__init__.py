"""seats-eval: SEATS and baseline token selection for Qwen-Omni models, as an lmms-eval plugin."""

__version__ = "0.1.0"
