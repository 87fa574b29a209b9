"""Measurement: selection and prefill timings, FLOPs, the benchmark thinkers, media decoding cost and their reports."""
