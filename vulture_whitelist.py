"""Names used where vulture cannot see it (`make lint` runs vulture with this file).

Only framework hooks belong here: lmms-eval calls the model class's API, entry points and
the method registry name functions by string, task YAMLs name utils functions with
`!function`, pytest requests fixtures by parameter name, and attributes are assigned on
PyAV / tokenizers / transformers objects that read them. Anything else vulture reports is
dead code: delete it.
"""

from vulture.whitelist_utils import Whitelist

from seats_eval.adapters import qwen3_omni
from seats_eval.backbones.families import Family
from seats_eval.bench import models as bench_models
from seats_eval.methods import divprune, fastv, visionzip
from seats_eval.models import registry
from seats_eval.models.omni import QwenOmniModel
from seats_eval.toys import tiny

# lmms-eval's model API
QwenOmniModel.is_simple
QwenOmniModel.world_size
QwenOmniModel.batch_size
QwenOmniModel.loglikelihood
QwenOmniModel.generate_until_multi_round
# entry point (pyproject: lmms_eval.models), the method and adapter registries (by name)
registry.manifests
qwen3_omni.Qwen3OmniAdapter
divprune.build_om
fastv.build_om
visionzip.build_om

_ = Whitelist()
# task utils named in tasks/*/*.yaml with !function
_.DATASET_PATH
_.DATASET_KWARGS
_.doc_to_text
_.fixture_doc_to_visual
_.process_results
_.aggregate_results
_.doc_to_messages
_.fixture_doc_to_messages
_.authors_accuracy
# tasks/subsets/*.yaml: process_docs
_.worldsense_docs
_.worldsense_fixture_docs
_.dailyomni_docs
_.dailyomni_fixture_docs
_.omnivideobench_docs
_.omnivideobench_fixture_docs
_.videomme_docs
_.videomme_fixture_docs
_.lvomnibench_docs
_.lvomnibench_fixture_docs
# pytest: module marks, fixtures used for their side effect only
_.pytestmark
_.checks_off
_.clean_env
_.sync_errors
_.normkeep
# attributes read by PyAV, tokenizers and transformers configs
_.thread_type
_.pix_fmt
_.sample_rate
_.pre_tokenizer
_.decoder
_.vision_start_token_id
_.vision_end_token_id
_.vision_token_id
_.audio_end_token_id
_.bit_rate
_.tie_word_embeddings

# the family record names its builders as "module:function" strings (backbones/families.py)
Family.tiny_config
Family.tiny_processor
Family.bench_config
bench_models.qwen25_bench_config
bench_models.qwen3_bench_config
tiny.build_qwen25_processor
tiny.build_qwen25_thinker_config
tiny.build_qwen3_processor
tiny.build_qwen3_thinker_config
