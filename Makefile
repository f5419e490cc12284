# Two commands set everything up on a fresh machine with Python >= 3.11:
#   make demo   the TMI sandbox + the portal + a Celery worker, with seed data
#   make test   the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) manage.py demo $(DEMO_ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)
