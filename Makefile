# The two commands of the README, and a few more.
#   make demo PATTERN=functional   install, create the demo databases, run the site
#   make test                      every test suite of the repository (tox)
#   make bench                     the benchmarks, full size (benchmarks/README.rst)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PATTERNS := functional replication sharding shadowing
PATTERN ?= functional
ADDR ?= 127.0.0.1:8000

# Interpreters that pyenv has but that are not on PATH (python3.12, python3.13),
# appended so that tox finds them; python3 itself stays what it was.
PYENV_PATH := $(shell command -v pyenv >/dev/null 2>&1 && \
  for v in $$(pyenv versions --bare); do printf ':%s' "$$(pyenv root)/versions/$$v/bin"; done)

.PHONY: demo check-pattern test bench install lint format clean slides slides-pdf

$(BIN)/.installed: requirements.txt benchmarks/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt -r benchmarks/requirements.txt
	touch $@

install: $(BIN)/.installed

check-pattern:
	@case " $(PATTERNS) " in *" $(PATTERN) "*) ;; \
	  *) echo "PATTERN must be one of: $(PATTERNS)" >&2; exit 2;; esac

demo: check-pattern install
	cd $(PATTERN) && ../$(BIN)/python manage.py setup_demo
	@# Replication on SQLite: a background `replicate` plays the replication stream.
	cd $(PATTERN) && if [ "$(PATTERN)" = replication ]; then \
	  ../$(BIN)/python manage.py replicate --follow --interval 20 >/dev/null & fi; \
	  ../$(BIN)/python manage.py runserver $(ADDR)

# KEEP_TOX_ENVS=0 (as CI runs it) deletes each tox environment once it has
# run: some 40 of them, at about 400 MB each, would fill a small disk.
KEEP_TOX_ENVS ?= 1

test: install
ifeq ($(KEEP_TOX_ENVS),0)
	@failed=""; for env in $$($(BIN)/tox list --no-desc); do \
	  PATH="$$PATH$(PYENV_PATH)" $(BIN)/tox run -e $$env || failed="$$failed $$env"; \
	  rm -rf .tox/$$env; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed" >&2; exit 1; fi; echo "All tox environments passed."
else
	PATH="$$PATH$(PYENV_PATH)" $(BIN)/tox run
endif

bench: install
	$(BIN)/python benchmarks/run.py

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

slides: install
	$(BIN)/sphinx-build -W --keep-going -b revealjs slides slides/_build/revealjs
	@echo "Open slides/_build/revealjs/index.html (press S for speaker notes)."

slides-pdf: slides
	$(BIN)/python slides/browser.py pdf slides/_build/deck.pdf

clean:
	rm -rf $(VENV) .tox */*.sqlite3 */*.sqlite3-* slides/_build
