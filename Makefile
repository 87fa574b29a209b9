# seats-eval: one command sets up and runs the offline demo, one runs the tests.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.seats-installed
ARTIFACTS ?= artifacts
PYTEST_ARGS ?=

.PHONY: setup demo test test-all lint mutants clean-artifacts table3 table8 table4 table5 table9 train-tiny \
	regression-baseline compat

# Paper tables: `make table3` runs the sweep (resumable: rerun to continue) and then writes
# results/table3.md + .csv (ours beside the paper's numbers) and the figures.
#   BACKBONE   picks model_configs/sweeps/<table>_<BACKBONE>.yaml; defaults: qwen25omni
#              (table3/4/5/9), qwen3omni (table8); `tiny` = the tiny models on CPU (table3/5/8:
#              the trained ones; table9: the random one; tables go to results/tiny/, marked
#              as not real numbers)
#   TASKS      fixtures | benchmarks | a,b,c: override the spec's tasks
#   LIMIT      lmms-eval --limit per task (tables then go to results/partial/)
#   SWEEP_OUT  results folder of the sweep (default: the spec's `out`)
#   SWEEP_ARGS extra `seats-eval sweep` flags: --force, --only 'seats*', --launcher accelerate
#              --num_processes 8, --slurm (write an sbatch array script instead of running)
#   TABLE_ARGS extra `seats-eval tables` flags (--table-out DIR, --no-figures)
# The CI regression: make table3 BACKBONE=tiny TASKS=fixtures
BACKBONE ?=
TASKS ?=
LIMIT ?=
SWEEP_OUT ?=
SWEEP_ARGS ?=
TABLE_ARGS ?=
SEATS_EVAL := $(VENV)/bin/seats-eval

# $(call paper_table,<table>,<default backbone>): sweep, then the table even when some job
# failed (missing cells stay missing); the exit status is the sweep's.
define paper_table
	@spec=model_configs/sweeps/$(1)_$(or $(BACKBONE),$(2)).yaml; \
	test -f $$spec || { echo "no sweep spec $$spec (BACKBONE=$(BACKBONE))" >&2; exit 2; }; \
	opts="--artifacts $(ARTIFACTS)$(if $(TASKS), --tasks $(TASKS))$(if $(LIMIT), --limit $(LIMIT))$(if $(SWEEP_OUT), --out $(SWEEP_OUT))"; \
	echo "+ seats-eval sweep --spec $$spec $$opts $(SWEEP_ARGS)"; \
	$(SEATS_EVAL) sweep --spec $$spec $$opts $(SWEEP_ARGS); rc=$$?; \
	case " $(SWEEP_ARGS) " in *" --slurm"*|*" --status "*|*" --dry-run "*) exit $$rc;; esac; \
	echo "+ seats-eval tables --spec $$spec $$opts $(TABLE_ARGS)"; \
	$(SEATS_EVAL) tables --spec $$spec $$opts $(TABLE_ARGS) || exit $$?; \
	exit $$rc
endef

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,decord]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/seats-eval demo --artifacts $(ARTIFACTS)

test: setup
	SEATS_TEST_ARTIFACTS=$(abspath $(ARTIFACTS))/test $(PY) -m pytest -q $(PYTEST_ARGS)

test-all: setup
	SEATS_TEST_ARTIFACTS=$(abspath $(ARTIFACTS))/test $(PY) -m pytest -q -m "not gpu" $(PYTEST_ARGS)

# The stack users have: the spine tests (identity with stock generate, equality with the mask
# oracle, no host sync, the transformers seam; both backbones) in a venv of their own with the
# NEWEST transformers, accelerate and lmms-eval the registry serves, past pyproject's upper
# bounds (torch stays at 2.14.1: this machine's pip is capped there). A failure here is the
# warning that the next release breaks us; CI runs it (`.ci/run`).
COMPAT_VENV ?= .venv-compat
COMPAT_PACKAGES ?= transformers accelerate lmms-eval
# (test_runtime.py, test_no_sync.py and test_layer_call.py run on every family of the record: the `spine` fixture)
SPINE_TESTS ?= tests/test_runtime.py tests/test_no_sync.py tests/test_layer_call.py tests/test_prefix_sharing.py
compat:
	test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install -q --upgrade pip
	$(COMPAT_VENV)/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1 -e '.[dev]'
	$(COMPAT_VENV)/bin/python -m pip install -q --upgrade $(COMPAT_PACKAGES)
	@$(COMPAT_VENV)/bin/python -c "import importlib.metadata as m; print('compat stack:', ', '.join(f'{p} {m.version(p)}' for p in ('torch', 'transformers', 'accelerate', 'lmms-eval')))"
	SEATS_TEST_ARTIFACTS=$(abspath $(ARTIFACTS))/test $(COMPAT_VENV)/bin/python -m pytest -q -p no:cacheprovider $(SPINE_TESTS)

lint: setup
	$(VENV)/bin/ruff check seats_eval tests tasks
	$(VENV)/bin/vulture seats_eval tests tasks vulture_whitelist.py --min-confidence 60

# Mutation testing (not part of CI; docs/testing.md): mutmut over the paths and with the
# tests of [tool.mutmut] in pyproject.toml. MUTANTS: mutmut name patterns; the default is the
# sample of docs/testing.md (every mutant whose number ends in 1, i.e. 1 in 10, of select/,
# methods/seats.py, runtime/signals.py, last_row_attention and PruningRuntime._scores);
# MUTANTS= (empty) runs all ~4400 mutants (hours on 2 loaded cores).
# Results: `mutmut results`, `mutmut show NAME` (in this directory; mutants/ is scratch).
MUTANTS ?= 'seats_eval.select.*__mutmut_*1' 'seats_eval.methods.seats.*__mutmut_*1' \
	'seats_eval.runtime.signals.*__mutmut_*1' 'seats_eval.runtime.attention.x_last_row_attention__mutmut_*1' \
	'seats_eval.runtime.prune.*_scores__mutmut_*1'
mutants: setup
	$(PY) -m pip install -q -c constraints.txt -e '.[mutation]'
	SEATS_TEST_ARTIFACTS=$(abspath $(ARTIFACTS))/test OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(VENV)/bin/mutmut results

clean-artifacts:
	rm -rf $(ARTIFACTS)

table3: setup
	$(call paper_table,table3,qwen25omni)

table8: setup
	$(call paper_table,table8,qwen3omni)

table4: setup
	$(call paper_table,table4,qwen25omni)

table5: setup
	$(call paper_table,table5,qwen25omni)

table9: setup
	$(call paper_table,table9,qwen25omni)

# The trained tiny models (seats_eval/data/tiny_trained/<backbone>/, committed): minutes on CPU.
train-tiny: setup
	$(SEATS_EVAL) train-tiny --backbone qwen2.5-omni --artifacts $(ARTIFACTS)
	$(SEATS_EVAL) train-tiny --backbone qwen3-omni --artifacts $(ARTIFACTS)

# Deliberately rewrite the CI regression baselines (model_configs/sweeps/baselines/) from
# fresh tiny runs of Tables 3, 5 and 8; review and commit the diff.
regression-baseline: setup
	@for t in table3 table5 table8; do \
	  $(MAKE) $$t BACKBONE=tiny TASKS=fixtures TABLE_ARGS=--no-figures SWEEP_OUT=results/sweeps/baseline-$$t-tiny \
	    SWEEP_ARGS="--force --no-progress" || exit $$?; \
	  $(SEATS_EVAL) regression --spec model_configs/sweeps/$${t}_tiny.yaml --tasks fixtures --artifacts $(ARTIFACTS) \
	    --out results/sweeps/baseline-$$t-tiny --update || exit $$?; \
	done
