"""The sample driver: the outer path of one sample, below the lmms-eval model class.

- `encoder.SampleEncoder`: (video file, question, system prompt, frame cap) -> processor
  inputs + encoder features + Stage I signals, with the feature cache (`feature_cache`) as
  its memo; `inputs` builds the processor inputs.
- `pipeline.SamplePipeline`: the thinker's adapter and the runtime's attention wrapper, set
  up once; runs one sample (prepare -> Stage I -> pruned prefill -> decode, runtime/).

Imports go one way: models/ -> driver/ -> runtime/ -> adapters/.
"""

from .pipeline import SamplePipeline, generate

__all__ = ["SamplePipeline", "generate"]
