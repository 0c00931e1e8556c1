# The two set-up commands the README gives. Everything else is a detail of these.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# requirements.lock pins every dependency (regenerate: see README, Development).
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,postgres]'
	touch $@ $(VENV)/.installed

# Browser libraries (charts, API docs pages), pinned with their integrity in package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

## make run: install, serve http://127.0.0.1:8000 on the embedded SQLite database (migrated at start)
run: $(VENV)/.installed node_modules/.package-lock.json
	LABLEDGER_MIGRATE_ON_START=true $(BIN)/labledger serve

## make test: install with dev and PostgreSQL extras, make sure Mosquitto, PostgreSQL and Chromium are there, run the suite
test: $(VENV)/.installed-dev node_modules/.package-lock.json
	@scripts/ensure-mosquitto
	@scripts/ensure-postgres
	@scripts/ensure-chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make bench: run every bench/*.py in name order, each bounded to BENCH_TIMEOUT seconds, timed
BENCH_TIMEOUT ?= 300
bench: $(VENV)/.installed-dev
	@status=0; all=$$(date +%s); times=""; for script in $$(ls bench/*.py | grep -v '/__init__.py$$' | sort); do \
		echo "== $$script"; one=$$(date +%s); \
		timeout $(BENCH_TIMEOUT) $(BIN)/python $$script || status=1; \
		took=$$(( $$(date +%s) - one )); times="$$times $$script=$${took}s"; \
		echo "== $$script took $$took s"; \
	done; echo "== per script:$$times"; \
	echo "== make bench took $$(( $$(date +%s) - all )) s in all (load average $$(cut -d' ' -f1-3 /proc/loadavg))"; exit $$status
