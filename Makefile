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

# uv installs the environments (seconds where pip took minutes). The uv on PATH
# if there is one; otherwise pip installs it from PyPI into .uv/, once, so a
# machine with only Python still runs the two commands above.
UV ?= $(or $(shell command -v uv 2>/dev/null),.uv/bin/uv)
# Interpreters come from this machine (pyenv, PATH), never from a download.
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo check-pattern test bench install lint format clean slides slides-pdf

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet uv

$(BIN)/.installed: requirements.txt benchmarks/requirements.txt pyproject.toml | $(UV)
	$(UV) venv --quiet --clear --seed --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python \
	  -r requirements.txt -r benchmarks/requirements.txt
	touch $@

install: $(BIN)/.installed

check-pattern:
	@case " $(PATTERNS) " in *" $(PATTERN) "*) ;; \
	  *) echo "PATTERN must be one of: $(PATTERNS)" >&2; exit 2;; esac

# setup_demo, then the server (and replication's follower) in the foreground,
# each line prefixed with its name, all stopped by Ctrl-C (manage.py demo).
demo: check-pattern install
	cd $(PATTERN) && exec ../$(BIN)/python manage.py demo --addr $(ADDR)

# Two environments at a time on 2 cores (JOBS=1 for one at a time), started
# in tox.ini's order, longest first. uv hard-links every environment's files
# from one cache, so keeping all of them costs little disk.
JOBS ?= 2

test: install
	PATH="$$PATH$(PYENV_PATH)" $(BIN)/tox run-parallel --parallel $(JOBS) --parallel-no-spinner

bench: install
	$(BIN)/python benchmarks/run.py

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

slides: install
	$(BIN)/python slides/screenshots.py
	$(BIN)/sphinx-build -W --keep-going -b revealjs slides slides/_build/revealjs
	@echo "Open slides/_build/revealjs/index.html (press S for speaker notes)."

# The handout: each slide on a page, its speaker notes on the next.
slides-pdf: slides
	$(BIN)/python slides/browser.py pdf slides/_build/deck.pdf

clean:
	rm -rf $(VENV) .uv .tox */*.sqlite3 */*.sqlite3-* slides/_build
