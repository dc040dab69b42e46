# newsflow: the two commands users type are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: install prerequisites demo airflow test test-faults test-cluster check services-up services-down services-status clean

install: $(VENV)/.installed

# pip installs newsflow, Airflow and the clients (one command, after pip itself); redone when pyproject changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("newsflow needs Python >= 3.11, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	@# The pip of Python 3.11's venv (23.2) fails to resolve one package's extras spelled two ways
	@# (lxml[html-clean] from readability-lxml, lxml[html_clean] from jusText); 24 and later resolve it.
	$(BIN)/pip install --quiet --upgrade 'pip>=24'
	$(BIN)/pip install --quiet --editable '.[dev]'
	@touch $@

# Java, Maven, Chromium and chromedriver: installed when missing (as root with apt-get), or one
# line naming them and a stop, before anything is installed or run.
prerequisites:
	@.ci/prerequisites

# The whole pipeline on a bundled sample news site, then the search page on
# http://127.0.0.1:8000/ until Ctrl-C (ARGS=--no-serve: report and exit).
demo: install
	$(BIN)/newsflow demo $(ARGS)

# Airflow 3 standalone (SQLite, under .newsflow/airflow) with the DAGs of dags/, until Ctrl-C:
# prints the UI's address and login (ARGS="--port 8081" for another port).
airflow: install
	$(BIN)/newsflow airflow $(ARGS)

# The whole suite: unit tests and integration tests against the real local services
# (started through `newsflow services up` when they are not running).
test: prerequisites install
	$(BIN)/pytest $(ARGS)

# The fault suite alone (also part of `make test`): crashes of every component during a run of
# 5,000 articles, and hostile input; prints its figures.
test-faults: prerequisites install
	$(BIN)/pytest -m faults $(ARGS)

# The cluster suite alone (not part of `make test`): a 3-broker Kafka and a 3-node Elasticsearch
# cluster of its own (about 3.6 GB of memory) carry 5,000 articles while the Kafka controller, a
# partition leader and the Elasticsearch master are killed; prints its figures (docs/scaling.md).
test-cluster: prerequisites install
	$(BIN)/pytest -m cluster $(ARGS)

# Formatting, lint and types (configured in pyproject.toml); changes nothing.
check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

services-up: install
	$(BIN)/newsflow services up

services-down: install
	$(BIN)/newsflow services down

services-status: install
	$(BIN)/newsflow services status

clean:
	rm -rf $(VENV) *.egg-info
