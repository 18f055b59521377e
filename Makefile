# inference-fleet — every target provisions what it needs (scripts/bootstrap.sh) before it runs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CONFIG ?= fleet.yaml
OUT ?= .
K8S ?= 1.34

export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/.venv/bin:$(PATH)
export JSII_NODE := $(CURDIR)/.tools/bin/node
PY := $(CURDIR)/.venv/bin/python

.PHONY: bootstrap synth check test test-fast validate plan bench golden clean diagram docs

bootstrap:
	@bash scripts/bootstrap.sh

synth: bootstrap ## write charts/, overlays/ and delivery/ from $(CONFIG) into $(OUT)
	@$(PY) -m synth synth --config "$(CONFIG)" --out "$(OUT)"

check: bootstrap ## fail (exit 1) when the committed output differs from a fresh synth
	@$(PY) -m synth synth --check --config "$(CONFIG)" --out "$(OUT)"

plan: bootstrap ## print the fleet plan and failover table
	@$(PY) -m synth plan --config "$(CONFIG)"

validate: bootstrap ## validate what every cluster receives (kubectl kustomize of each overlay)
	@$(PY) -m synth validate --kubernetes-version $(K8S) --overlays "$(OUT)/overlays"

test: bootstrap ## the whole test suite, including the drift check (one worker per core)
	@$(PY) -m pytest -q -p no:cacheprovider -n auto

test-fast: bootstrap ## the inner loop: everything but the process-level tests (signals, the wheel, trivy)
	@$(PY) -m pytest -q -p no:cacheprovider -n auto --ignore=tests/test_safe_runs.py --ignore=tests/test_package.py \
		--ignore=tests/test_posture_scanner.py

golden: bootstrap ## accept the current output of the test fleets as the new golden files
	@UPDATE_GOLDEN=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_drift.py -k test_golden

bench: bootstrap ## synth and validation speed, as ratios against a bare cdk8s import
	@$(PY) -m synth.bench

clean:
	rm -rf .venv .tools .cache

diagram: bootstrap ## render the fleet topology to build/fleet.svg (needs Graphviz: apt-get install graphviz)
	@$(PY) -m synth plan --config "$(CONFIG)" --dot build/fleet.dot >/dev/null
	@command -v dot >/dev/null || { echo "diagram: Graphviz 'dot' is not installed (apt-get install graphviz); the DOT source is build/fleet.dot" >&2; exit 2; }
	@dot -Tsvg build/fleet.dot -o build/fleet.svg && echo "build/fleet.svg"

docs: bootstrap ## regenerate the fleet-file reference in README.md from schemas/fleet.schema.json
	@$(PY) -m synth.docs
