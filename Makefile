# The two set-up commands: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/monitor.yaml

.PHONY: run test install clean bench bench-daemon bench-clustering schema lint

# constraints.txt: the exact versions everything was tested and measured with.
$(BIN)/monitor: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(BIN)/monitor

run: install
	$(BIN)/monitor run -c $(CONFIG)

test: install
	$(BIN)/python -m pytest -q

# ruff (rules in pyproject.toml) and mypy strict on monitor/; the linters install on first use.
lint: install
	$(BIN)/pip install --quiet -c constraints.txt ruff mypy
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy monitor

# press-monitor against urlwatch on a local nginx (installs nginx and urlwatch if missing).
# BENCH_ARGS, e.g. --sources 2000 --runs 3
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The daemon itself with 10,000 configured sources on the bench site: peak RSS, polls, CPU.
bench-daemon: install
	$(BIN)/python bench/bench_daemon.py $(BENCH_ARGS)

# Precision and recall of story clustering on the labelled ISAF set (../shared/corpus).
bench-clustering: install
	$(BIN)/python bench/bench_clustering.py

# Regenerate the editors' JSON Schema after changing the config models (a test compares them).
schema: install
	$(BIN)/monitor schema > schema/monitor.schema.json.tmp && mv schema/monitor.schema.json.tmp schema/monitor.schema.json
	$(BIN)/monitor schema --watchlist > schema/watchlist.schema.json.tmp \
		&& mv schema/watchlist.schema.json.tmp schema/watchlist.schema.json

clean:
	rm -rf $(VENV) .pytest_cache
