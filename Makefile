# twin: `make demo` sets everything up and serves the demo scene; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CESIUM := web/static/cesium/Cesium.js
# pyproj and shapely are built against Debian's PROJ/GEOS, the ones SpatiaLite uses (see
# scripts/system-deps.sh), with Cython 3.0 (pyproj 3.6 miscompiles with 3.1: "expected bytes");
# pip caches the built wheels, so only the first install compiles.
PIP_INSTALL := $(BIN)/pip install --quiet --no-binary pyproj,shapely,pyogrio,rasterio --build-constraint build-constraints.txt -c constraints.txt

.PHONY: demo serve test lint format bench sysdeps-demo sysdeps-test postgis web clean

demo: sysdeps-demo $(VENV)/.installed $(CESIUM)
	$(BIN)/twin demo

serve: sysdeps-demo $(VENV)/.installed $(CESIUM)
	$(BIN)/twin serve

test: sysdeps-test $(VENV)/.installed $(CESIUM)
	@if [ "$$(id -u)" = 0 ] && command -v pg_lsclusters >/dev/null; then scripts/start-postgis.sh; fi
	@if command -v mosquitto >/dev/null; then scripts/start-mosquitto.sh; fi
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed $(CESIUM)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

sysdeps-demo:
	@scripts/system-deps.sh demo

sysdeps-test:
	@scripts/system-deps.sh test

postgis:
	scripts/start-postgis.sh

$(VENV)/.installed: pyproject.toml constraints.txt build-constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP_INSTALL) -e '.[dev]'
	touch $@

web: $(CESIUM)

$(CESIUM): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	rm -rf web/static/cesium && mkdir -p web/static
	cp -r web/node_modules/cesium/Build/Cesium web/static/cesium
	touch $@

clean:
	rm -rf $(VENV) web/node_modules web/static/cesium test-output
