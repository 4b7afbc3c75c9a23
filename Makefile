.PHONY: demo test serve lint format bench

# Set up, seed the demo data and serve it at http://127.0.0.1:8000
demo:
	@scripts/demo.sh

# Set up and run the whole suite on SQLite and PostgreSQL
test:
	@scripts/test.sh

# Serve for production with gunicorn (settings from the environment; see README)
serve:
	@[ -n "$$APP_PYTHON" ] || [ -x .venv/bin/gunicorn ] || scripts/bootstrap.sh
	@scripts/serve.sh

# Load a million generated customers (kept between runs) and print the benchmark table;
# SIZES=100k,1m,10m: the cost curve, the request scenarios at each size side by side
bench:
	@bench/run.sh $(if $(SIZES),--sizes "$(SIZES)")

lint:
	@scripts/bootstrap.sh && .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

format:
	@scripts/bootstrap.sh && .venv/bin/ruff format . && .venv/bin/ruff check --fix .
