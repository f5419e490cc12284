# Two commands set everything up on a fresh machine with Python >= 3.11:
#   make demo   the TMI sandbox + the portal + a Celery worker, with seed data
#   make test   the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast chromium pdf-deps
CHROMIUM := /usr/bin/chromium

# Installing takes about 100 s on a fresh machine: a line per step, and pip lists what it fetches and installs.
$(VENV)/.installed: pyproject.toml
	@echo "==> [1/3] Creating the virtual environment in $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] Upgrading pip"
	$(PY) -m pip install --quiet --upgrade pip
	@echo "==> [3/3] Installing the portal and its dependencies (about 100 s on a fresh machine)"
	$(PY) -m pip install --disable-pip-version-check -e '.[dev]'
	@echo "==> Installed into $(VENV)."
	touch $@

demo: pdf-deps $(VENV)/.installed
	$(PY) manage.py demo $(DEMO_ARGS)

# The suite runs in one process per core (pytest-xdist; tests/isolation.py keeps them apart).
# PYTEST_WORKERS=0 runs it in this process, e.g. to debug with --pdb.
PYTEST_WORKERS ?= auto

test: pdf-deps chromium $(VENV)/.installed
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: everything but the tests that are slow by nature (Chromium, worker processes, PDFs).
test-fast: $(VENV)/.installed
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not browser and not workers and not pdf" $(PYTEST_ARGS)

# What the system must provide, checked before anything else runs. Installed when missing and we may
# (root, with apt-get) unless INSTALL_SYSTEM_PACKAGES=no; otherwise say what to install.
INSTALL_SYSTEM_PACKAGES ?= auto
MAY_INSTALL = [ "$(INSTALL_SYSTEM_PACKAGES)" != no ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null

# PDF reports (WeasyPrint) need Pango and a font: `make demo` and `make test` stop here when they are missing,
# rather than the demo's worker failing on the first export.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
FONT_DIRS ?= /usr/share/fonts /usr/local/share/fonts
PDF_READY = ldconfig -p 2>/dev/null | grep -q 'libpango-1\.0\.so' && ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1\.0\.so' \
	&& find $(FONT_DIRS) \( -name '*.ttf' -o -name '*.otf' \) 2>/dev/null | grep -q .
pdf-deps:
	@if ! { $(PDF_READY); }; then \
	  if $(MAY_INSTALL); then \
	    echo "==> Installing what PDF reports need: $(PDF_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PDF_PACKAGES); \
	  else \
	    echo "PDF reports need Pango and a font, which are missing: install them with" >&2; \
	    echo "  sudo apt-get install -y $(PDF_PACKAGES)" >&2; \
	    echo "then run make again." >&2; \
	    exit 1; \
	  fi; \
	fi

# Only the tests need a browser: they drive Debian's chromium (Playwright cannot download its own browsers here).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if $(MAY_INSTALL); then \
	    echo "==> Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "The browser tests need Debian's chromium: install it with 'sudo apt-get install -y chromium'."; \
	  fi; \
	fi
