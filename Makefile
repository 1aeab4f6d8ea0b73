# dockyard.docr: build, test and demo entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := .venv
# Rebuilt only when a requirements file is newer than this stamp (or the venv is gone).
VENV_STAMP := $(VENV)/.requirements.stamp
STAGE := hack/stage.sh

.PHONY: help venv demo test unit integration sanity lint molecule e2e bench soak clean release

help:
	@echo "make venv         create or update .venv (Python 3.11) with requirements-dev.txt"
	@echo "make demo         run tests/demo/demo.yml twice against the API simulator"
	@echo "make test         unit, integration, sanity, lint, molecule and e2e, in that order"
	@echo "make unit         pytest over tests/"
	@echo "make integration  ansible-test integration targets against the simulator"
	@echo "make sanity       ansible-test sanity (all tests, Python 3.8-3.13)"
	@echo "make lint         ansible-lint (production profile), antsibull-changelog lint, shellcheck"
	@echo "make molecule     molecule test for every extensions/molecule/* scenario"
	@echo "make e2e          end to end with a real registry and skopeo (installs them with apt-get as root)"
	@echo "make bench        run tests/bench/*.py and print their figures"
	@echo "make soak         unit + integration SOAK_RUNS times (default 3) beside 2 CPU-bound processes"
	@echo "make clean        remove build/, collections/ and tests/output/"
	@echo "make release VERSION=X.Y.Z  fold the changelog fragments into release X.Y.Z (hack/release.sh)"

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt
	@$(STAGE) venv hack/venv.sh
	@touch $@

demo: venv
	@$(STAGE) demo hack/demo.sh

# hack/test.sh runs `make venv`, then the stages in order, and prints their times at the end.
test:
	@MAKE="$(MAKE)" hack/test.sh

unit: venv
	@$(STAGE) unit hack/unit.sh

integration: venv
	@$(STAGE) integration hack/integration.sh

sanity: venv
	@$(STAGE) sanity hack/sanity.sh

lint: venv
	@$(STAGE) lint hack/lint.sh

molecule: venv
	@$(STAGE) molecule hack/molecule.sh

e2e: venv
	@$(STAGE) e2e hack/e2e.sh

bench: venv
	@$(STAGE) bench hack/bench.sh

# Not part of `make test`: proves the suites steady under load (see hack/soak.sh for its settings).
soak: venv
	@$(STAGE) soak hack/soak.sh

clean:
	rm -rf build collections tests/output

# Not part of `make test`: changes changelogs/ and writes CHANGELOG.rst (commits nothing).
release: venv
	@[[ -n "$(VERSION)" ]] || { echo "usage: make release VERSION=X.Y.Z" >&2; exit 2; }
	@hack/release.sh "$(VERSION)"
