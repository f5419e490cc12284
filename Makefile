# Two commands set everything up on a fresh machine with Python >= 3.11:
#   make demo   the TMI sandbox + the portal + a Celery worker, with seed data
#   make test   the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast chromium
CHROMIUM := /usr/bin/chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) manage.py demo $(DEMO_ARGS)

# The suite runs in one process per core (pytest-xdist; tests/isolation.py keeps them apart).
# PYTEST_WORKERS=0 runs it in this process, e.g. to debug with --pdb.
PYTEST_WORKERS ?= auto

test: $(VENV)/.installed chromium
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The inner loop: everything but the tests that are slow by nature (Chromium, worker processes, PDFs).
test-fast: $(VENV)/.installed
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not browser and not workers and not pdf" $(PYTEST_ARGS)

# The browser tests drive Debian's chromium (Playwright cannot download its own browsers here), and
# WeasyPrint (PDF reports) needs Pango. Installed when missing and we may (root); otherwise say what to install.
SYSTEM_PACKAGES := chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
chromium:
	@if [ ! -x $(CHROMIUM) ] || ! ldconfig -p 2>/dev/null | grep -q libpango-1.0; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	  else \
	    echo "Tests need Debian's $(SYSTEM_PACKAGES): install them with 'sudo apt-get install -y $(SYSTEM_PACKAGES)'."; \
	  fi; \
	fi
