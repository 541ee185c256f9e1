# ICTMS developer commands. `make run` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Where `make run` serves; also the address in e-mailed links unless SITE_URL is set (passed as ICTMS_HOST/ICTMS_PORT).
HOST ?= 127.0.0.1
PORT ?= 8000
export ICTMS_HOST := $(HOST)
export ICTMS_PORT := $(PORT)

.PHONY: install run test test-fast lint typecheck migrate demo worker bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	$(PY) manage.py recover_intake
	@echo "ICTMS is starting at http://$(HOST):$(PORT)/ (demo logins are listed above and in README.md)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(VENV)/bin/pytest -n auto

test-fast: install
	$(VENV)/bin/pytest -n auto -m "not browser and not worker"

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

worker: install
	$(VENV)/bin/celery -A ictms worker --beat --loglevel=INFO --schedule $(or $(ICTMS_VAR_DIR),var)/celerybeat-schedule

bench: install
	$(PY) benchmarks/deid_throughput.py
	$(PY) benchmarks/render.py --with-endpoint
	$(PY) benchmarks/upload_e2e.py

clean:
	rm -rf $(VENV) var .pytest_cache
