# modelprep: `make release` builds, validates and records every model in params.yaml;
# `make test` runs the test suite. Both set up what they need first, idempotently.

PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

# llama.cpp: one pinned llama-cpp-python source release gives the runtime, the quantizer and the
# converter (convert_hf_to_gguf.py, conversion/, gguf-py) of the same llama.cpp commit.
LLAMA_CPP_PYTHON := 0.3.36
LLAMA_SDIST := .tools/llama_cpp_python-$(LLAMA_CPP_PYTHON).tar.gz
LLAMA_SDIST_SHA256 := 832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
LLAMA_TREE := .tools/llama_cpp_python-$(LLAMA_CPP_PYTHON)/vendor/llama.cpp
# Portable x86-64-v3 build (AVX2, FMA, F16C): the same code paths on every such CPU, so the same
# bytes and figures.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
# `make setup CUDA=1` (or release/test) sets up for GPU validation: llama.cpp built with CUDA, and
# onnxruntime-gpu instead of onnxruntime (requirements-cuda.txt against requirements-cpu.txt).
# The two ONNX Runtime packages share one module name, so switching removes the other one first.
CUDA ?= 0
ifeq ($(CUDA),1)
LLAMA_CMAKE_ARGS += -DGGML_CUDA=ON
FLAVOUR := cuda
OTHER_FLAVOUR := cpu
else
FLAVOUR := cpu
OTHER_FLAVOUR := cuda
endif
# Built wheels are kept per machine, so a fresh clone does not spend five minutes compiling again.
WHEEL_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/modelprep/wheels/llama-cpp-python-$(LLAMA_CPP_PYTHON)-$(FLAVOUR)
SETUP_STAMP := $(VENV)/.setup-$(FLAVOUR)
# llama.cpp's own command-line tools from the same tree and flags, built once per machine by `make
# setup` (about 6 minutes on 2 cores) and linked at .tools/llama-bin: llama-quantize and
# llama-gguf-split (the GGUF variants), llama-imatrix (the importance matrix) and llama-perplexity
# (the benchmark's side-by-side scoring speed).
LLAMA_TOOLS := llama-perplexity llama-imatrix llama-quantize llama-gguf-split
LLAMA_TOOLS_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/modelprep/llama-tools-$(LLAMA_CPP_PYTHON)-$(FLAVOUR)
LLAMA_TOOLS_STAMP := .tools/llama-bin/.built

# arlocal (npm), the local Arweave gateway the tests run and `make arlocal` serves, pinned by its
# package-lock.json; npm ci compiles sqlite3 from source, about 80 seconds the first time.
ARLOCAL_DIR := tests/arlocal
ARLOCAL_STAMP := $(ARLOCAL_DIR)/node_modules/.package-lock.json
# `make release PIN=kubo|psa|arweave` pins every released package there (default: params.yaml pin.target).
PIN ?=
# `make release REMOTE=s3://bucket/prefix`: the shared DVC remote (default: params.yaml remote.url).
REMOTE ?=
# `make release RAY=host:6379` (or ray://host:10001, auto): the stages on that Ray cluster, one task per
# stage, sharing their outputs through the remote (REMOTE or params.yaml remote.url must name one).
RAY ?=

.PHONY: setup llama-tools release release-locked reproduce test bench bench-scale constraints clean arlocal

setup: $(SETUP_STAMP) $(LLAMA_TOOLS_STAMP)

$(SETUP_STAMP): requirements.txt requirements-$(FLAVOUR).txt constraints.txt pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip uninstall --quiet --yes $$(grep -o '^[a-z-]*' requirements-$(OTHER_FLAVOUR).txt) 2>/dev/null || true
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-$(FLAVOUR).txt \
	    -c constraints.txt
	@mkdir -p .tools
	@test -f $(LLAMA_SDIST) || $(BIN)/pip download --quiet --no-deps --no-binary :all: \
	    -d .tools llama-cpp-python==$(LLAMA_CPP_PYTHON)
	@echo "$(LLAMA_SDIST_SHA256)  $(LLAMA_SDIST)" | sha256sum --check --quiet || \
	    { echo "$(LLAMA_SDIST): sha256 differs from the pinned one"; exit 1; }
	@test -f $(LLAMA_TREE)/convert_hf_to_gguf.py || tar -xzf $(LLAMA_SDIST) -C .tools
	@ls $(WHEEL_CACHE)/*.whl >/dev/null 2>&1 || { \
	    echo "building llama-cpp-python $(LLAMA_CPP_PYTHON) ($(FLAVOUR)) from source: about 5 minutes on 2 cores"; \
	    CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --quiet --no-deps -w $(WHEEL_CACHE) $(LLAMA_SDIST); }
	$(BIN)/pip install --quiet --no-deps --force-reinstall $(WHEEL_CACHE)/*.whl
	$(BIN)/pip install --quiet --no-deps $(LLAMA_TREE)/gguf-py
	$(BIN)/pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.setup-*
	@touch $@

llama-tools: $(LLAMA_TOOLS_STAMP)

$(LLAMA_TOOLS_STAMP): $(SETUP_STAMP)
	@ls $(addprefix $(LLAMA_TOOLS_CACHE)/bin/,$(LLAMA_TOOLS)) >/dev/null 2>&1 || { \
	    echo "building llama.cpp's tools ($(LLAMA_TOOLS)) from $(LLAMA_TREE): about 6 minutes on 2 cores"; \
	    cmake -S $(LLAMA_TREE) -B $(LLAMA_TOOLS_CACHE)/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
	        -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	        -DLLAMA_BUILD_SERVER=OFF $(LLAMA_CMAKE_ARGS) >/dev/null && \
	    cmake --build $(LLAMA_TOOLS_CACHE)/build --target $(LLAMA_TOOLS) >/dev/null && \
	    mkdir -p $(LLAMA_TOOLS_CACHE)/bin && \
	    cp $(addprefix $(LLAMA_TOOLS_CACHE)/build/bin/,$(LLAMA_TOOLS)) $(LLAMA_TOOLS_CACHE)/bin/ && \
	    rm -rf $(LLAMA_TOOLS_CACHE)/build; }
	@ln -sfn $(LLAMA_TOOLS_CACHE)/bin .tools/llama-bin
	@touch $@

# One release at a time per project: a second one would run the same stages, and sign and index
# half-built manifests. The lock is held by flock(1) for the whole recipe.
release:
	@mkdir -p build
	@flock --nonblock --conflict-exit-code 75 build/.release.lock $(MAKE) --no-print-directory release-locked || \
	    { status=$$?; test $$status = 75 && echo >&2 "modelprep: error: build/.release.lock: another" \
	      "make release is running in this project; wait for it to end"; exit $$status; }

# modelprep check-build: after a failed repro, going on to sign, pin and index is right only when the
# failures are variants that missed their gate (their manifests are withdrawn); anything else stops here.
# dvc checkout --relink: DVC leaves an output it rebuilt with bytes its cache already holds as a second
# copy beside the cache's; relinking makes it the cache's hard link again (seconds, no rehash).
# modelprep repro: dvc repro --keep-going, pulling from and pushing to the shared DVC remote when there is
# one (params.yaml remote.url; REMOTE=s3://bucket/prefix or REMOTE=/shared/folder overrides it).
# modelprep collect: the release stages' manifests (DVC outputs under build/) into manifests/.
# modelprep measure: speed and memory on this machine, beside each manifest; MEASURE=0 skips it and
# keeps the measured files as they are (make reproduce does: they are per machine).
MEASURE ?= 1
release-locked: setup
	@modelprep check-params >/dev/null  # stages read only their own sections: check the whole file first
	@modelprep sweep
	@status=0; modelprep repro $(if $(REMOTE),--remote '$(REMOTE)') $(if $(RAY),--ray '$(RAY)') || status=1; \
	modelprep check-build || exit 1; \
	dvc checkout --relink --quiet || status=1; \
	modelprep collect || exit 1; \
	modelprep withdraw || status=1; \
	$(if $(filter 0,$(MEASURE)),,modelprep measure || status=1;) \
	modelprep sign || status=1; \
	modelprep pin $(if $(PIN),--target $(PIN)) || status=1; \
	modelprep index || status=1; echo; modelprep report || status=1; exit $$status

# A rebuild from scratch must give the committed bytes: this commit cloned into REPRODUCE_DIR, `make release`
# there with the same signing key (MODELPREP_SIGNING_KEY or ~/.config/modelprep/signing-key.pem) and
# MEASURE=0, then every tracked file that differs, or untracked one that appeared, is named and it
# fails. Accuracy figures are the same bytes only on the same CPU family and runtime builds.
REPRODUCE_DIR ?= $(or $(TMPDIR),/tmp)/modelprep-reproduce
reproduce:
	rm -rf $(REPRODUCE_DIR)
	git clone --quiet . $(REPRODUCE_DIR)
	$(MAKE) -C $(REPRODUCE_DIR) --no-print-directory release MEASURE=0
	@cd $(REPRODUCE_DIR) && changed=$$(git status --porcelain) && if test -n "$$changed"; then \
	    echo >&2 "modelprep: error: the rebuild in $(REPRODUCE_DIR) differs from the commit:"; \
	    echo >&2 "$$changed"; exit 1; fi
	@echo "reproduced: a clean rebuild gives the committed manifests, signatures, provenance, index, report and dvc.lock"

# tests/test_report_html.py renders manifests/report.html in headless Chromium (Debian's chromium package);
# tests/test_oci.py pushes to and pulls from a real OCI registry (Debian's docker-registry, CNCF distribution).
DEBIAN_TEST_TOOLS := chromium:chromium docker-registry:docker-registry
test: setup $(ARLOCAL_STAMP)
	@for pair in $(DEBIAN_TEST_TOOLS); do command=$${pair%%:*}; package=$${pair#*:}; \
	    command -v $$command >/dev/null || { test "$$(id -u)" = 0 && apt-get update -qq && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$package; } || \
	    { echo >&2 "$$package is not installed: the tests need it; install it with" \
	           "'sudo apt-get install -y $$package' (Debian) and run make test again"; exit 1; }; done
	$(BIN)/python -m pytest

$(ARLOCAL_STAMP): $(ARLOCAL_DIR)/package.json $(ARLOCAL_DIR)/package-lock.json
	cd $(ARLOCAL_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# A local Arweave gateway on port 1984 (Ctrl-C stops it and deletes its data), for `make release PIN=arweave`.
arlocal: $(ARLOCAL_STAMP)
	cd $(ARLOCAL_DIR) && node node_modules/arlocal/bin/index.js 1984  # its logs/ stay in there

# bench: the shipped examples' speeds, then the whole pipeline on a TinyLlama-1.1B-shaped model (about
# an hour on 2 cores); bench-scale: on a Mistral-7B-shaped one, its GGUF variants then its ONNX ones in
# a second workspace (20-60 min on 2 cores; 15 GB of weights, ~55 GB of disk at a time).
bench: setup
	-@dvc repro --quiet --keep-going  # bench measures the built artifacts, gate or no gate
	$(BIN)/python -m pipeline.bench
	$(BIN)/python -m pipeline.bench_scale tinyllama-1_1b

bench-scale: setup
	dvc repro --quiet corpus generate_example  # the shaped model's tokenizer reads the corpus
	$(BIN)/python -m pipeline.bench_scale mistral-7b mistral-7b-onnx

# Re-pin every version after changing requirements.txt. ONNX Runtime is pinned in requirements-cpu.txt
# and requirements-cuda.txt, one package per flavour, so it stays out of here.
constraints: setup
	@{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable | \
	    grep -v -iE '^(llama.cpp.python|gguf|onnxruntime[a-z-]*)[ =@]' | sed 's/+cpu$$//'; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt

clean:
	rm -rf build .dvc/cache .dvc/tmp
