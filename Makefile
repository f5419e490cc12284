# Two commands set everything up on a fresh machine with Python >= 3.11:
#   make demo   the TMI sandbox + the portal + a Celery worker, with seed data
#   make test   the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test chromium
CHROMIUM := /usr/bin/chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) manage.py demo $(DEMO_ARGS)

test: $(VENV)/.installed chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's chromium (Playwright cannot download its own browsers here).
# Installed when missing and we may (root); otherwise the browser tests fail and say what to install.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "Browser tests need $(CHROMIUM): install it with 'sudo apt-get install -y chromium'."; \
	  fi; \
	fi
