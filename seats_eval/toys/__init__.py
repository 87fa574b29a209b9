"""Toys for CPU work: tiny Qwen-Omni thinkers, their training, and the synthetic clips and quizzes they answer (no claim about real models)."""
