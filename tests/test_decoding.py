"""--gen_kwargs through the pruned decoder (runtime/decoding.py): greedy stays argmax, sampling
draws from the tempered / truncated distribution, reproducibly per sample, and options the
decoder cannot honour are refused by name; the model class hands lmms-eval its token counts."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from seats_eval.backbones.config import load_backbone_config
from seats_eval.driver import generate
from seats_eval.errors import ConfigError
from seats_eval.methods import build_method
from seats_eval.runtime.decoding import GREEDY, Decoding

from .chat import chat_request


@pytest.mark.parametrize("kwargs, match", [
    ({"num_beams": 2}, "beam search"),
    ({"repetition_penalty": 1.1}, "repetition_penalty"),
    ({"temperature": -0.5}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": 0.7, "top_p": 0}, "top_p"),
    ({"temperature": 0.7, "top_k": -1}, "top_k"),
    ({"do_sample": True, "temperature": 0}, "do_sample"),
    ({"do_sample": "maybe", "temperature": 0.5}, "do_sample"),
    ({"max_new_tokens": -1}, "max_new_tokens"),
    ({"max_new_tokens": "abc"}, "max_new_tokens"),
])
def test_bad_gen_kwargs_are_refused_by_name(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Decoding.from_gen_kwargs(kwargs, seed=0)


def test_task_yaml_defaults_are_greedy():
    yaml_defaults = {"max_new_tokens": 1024, "temperature": 0, "top_p": 1.0, "num_beams": 1, "do_sample": False,
                     "until": ["\n\n"]}
    assert Decoding.from_gen_kwargs(yaml_defaults, seed=3).greedy
    d = Decoding.from_gen_kwargs({**yaml_defaults, "temperature": "0.7", "do_sample": "True"}, seed=3)
    assert (d.greedy, d.temperature, d.top_p) == (False, 0.7, 1.0)


def test_greedy_pick_is_argmax():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(0))
    assert int(GREEDY.pick(logits, None)) == int(logits.argmax())
    assert GREEDY.generator("s", torch.device("cpu")) is None


def test_sampling_follows_the_tempered_distribution():
    """Draw counts against softmax(logits / T): a chi-square test (scipy), not a tolerance."""
    logits = torch.tensor([2.0, 1.0, 0.5, -1.0])
    d = Decoding(temperature=2.0)
    gen = torch.Generator().manual_seed(1)
    n = 4000
    draws = torch.stack([d.pick(logits, gen) for _ in range(n)])
    counts = torch.bincount(draws, minlength=4).double().numpy()
    expected = (torch.softmax(logits.double() / 2.0, 0) * n).numpy()
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    wrong = (torch.softmax(logits.double(), 0) * n).numpy()  # the untempered distribution is rejected
    assert stats.chisquare(counts, wrong).pvalue < 1e-6


def test_top_p_and_top_k_truncate():
    logits = torch.tensor([3.0, 2.9, 0.0, -1.0])  # p = .50, .45, .04, .01
    gen = torch.Generator().manual_seed(0)
    nucleus = {int(Decoding(temperature=1.0, top_p=0.9).pick(logits, gen)) for _ in range(300)}
    assert nucleus == {0, 1}  # the two tokens that first reach 0.9
    top1 = {int(Decoding(temperature=50.0, top_k=1).pick(logits, gen)) for _ in range(50)}
    assert top1 == {0}


def test_sampled_generation_is_reproducible_per_sample(thinker, make_inputs):
    inputs = make_inputs("av_moving.mp4")
    method = build_method("seats", load_backbone_config("tiny"), {"R": "0.35"})
    greedy = generate(thinker, inputs, method, max_new_tokens=6).tokens
    hot = Decoding(temperature=3.0, seed=1234)
    a = generate(thinker, inputs, method, max_new_tokens=6, sample="t/test/0", decoding=hot).tokens
    b = generate(thinker, inputs, method, max_new_tokens=6, sample="t/test/0", decoding=hot).tokens
    c = generate(thinker, inputs, method, max_new_tokens=6, sample="t/test/1", decoding=hot).tokens
    other_seed = generate(thinker, inputs, method, max_new_tokens=6, sample="t/test/0",
                          decoding=Decoding(temperature=3.0, seed=1235)).tokens
    second_draw = generate(thinker, inputs, method, max_new_tokens=6, sample="t/test/0",
                           decoding=Decoding(temperature=3.0, seed=1234, draw=1)).tokens
    assert a == b
    # 6 draws at T=3 from a random model: any two streams agree only by a fluke
    assert len({tuple(t) for t in (greedy, a, c, other_seed, second_draw)}) == 5
    assert generate(thinker, inputs, method, max_new_tokens=6, decoding=Decoding(seed=99)).tokens == greedy


def test_model_class_samples_and_reports_token_counts(tiny_dir, clips_dir, tmp_path):
    from seats_eval.models.ids import Model_seats_qwen25omni

    m = Model_seats_qwen25omni(pretrained=str(tiny_dir), R="0.35", record_dir=str(tmp_path))
    m.task_dict = {"seats_fixture_mcq": {"test": {0: {}}}}
    req = chat_request(clips_dir / "av_moving.mp4", max_new_tokens=4)
    [greedy] = m.generate_until([req])
    req.args[2].update(temperature=3.0, do_sample=True)
    torch.manual_seed(7)  # lmms-eval's --seed sets the torch seed the streams start from
    [s1] = m.generate_until([req])
    torch.manual_seed(7)
    s2, s2_repeat = m.generate_until([req, req])  # --repeats 2: the second copy is a new draw
    torch.manual_seed(8)
    [s3] = m.generate_until([req])
    assert s1 == s2 and s1.text != greedy.text
    assert s2_repeat.text != s2.text and s3.text != s1.text
    rec = m.records[-1]
    assert (rec["decoding"], rec["temperature"]) == ("sample", 3.0)
    assert greedy.token_counts.input_tokens == sum(rec["input_counts"])
    assert 1 <= s1.token_counts.output_tokens == rec["output_tokens"] <= 4
    req.args[2].update(num_beams=4)
    with pytest.raises(ConfigError, match="beam search"):  # refused before any sample runs
        m.generate_until([req])
    assert m.records[-1] is rec
