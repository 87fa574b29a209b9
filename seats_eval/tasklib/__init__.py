"""Helpers shared by the lmms-eval tasks under `tasks/` (and, for the system prompt, by the
model class), one module per concern:

- `prompts`: Qwen-Omni's default system prompt and the per-task system prompt.
- `sources`: where each benchmark's annotations and videos come from (environment
  variables, hub ids, the local hub cache) and the video path of a record.
- `paths`: record paths joined under a root that they can never leave.
- `records`: record values in their stored forms (options, answer letters, durations,
  label lists).
- `answers`: the deterministic response -> option letter extraction.
- `scoring`: per-sample payloads, accuracy, per-category breakdowns (`seats-eval breakdown`).

Every module needs only the standard library at import time (pandas inside
`scoring.breakdown`), so lmms-eval indexes and loads the task configs without model code.
Nothing is re-exported here: import from the module that owns the name.
"""
