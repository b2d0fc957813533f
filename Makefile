# embercast: every install step lives here; nothing is done by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NETS := $(VENV)/.installed-nets
RUN_DIR ?= runs/quickstart

.PHONY: run test test-slow bench lint format clean constraints

# every distribution at the version constraints.txt pins (`make constraints` writes it anew), so
# that a dataset's content hash is the same on every machine
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# the temporal models' extra (PyTorch CPU, ~870 MB): the tests use it, the main job does not
$(NETS): $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,nets]'
	touch $(NETS)

## constraints: pin what is installed now (after changing pyproject.toml's requirements and
## installing them); tests/test_constraints.py checks that the pins and the venv agree
constraints: $(NETS)
	{ sed -n '1,/^$$/p' constraints.txt; $(PY) -m pip freeze --all --exclude-editable \
	  | grep -v '^pip==' | sed 's/+cpu$$//'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

## run: the whole system: a small dataset, a trained champion, the service and simulated rooms
run: $(STAMP)
	$(VENV)/bin/embercast run --out $(RUN_DIR)

## test: the test suite on both cores (slow checks excluded; see test-slow); three workers, since
## many tests wait on a broker, a service or a browser while the other two compute; the longest
## files first (tests/conftest.py, SLOWEST_FIRST); bytecode is written even where the environment
## says not to (PYTHONDONTWRITEBYTECODE), or each of the suite's ~200 Python processes compiles the
## package again and each worker rewrites every test module's asserts again
test: $(NETS)
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n 3 --dist loadfile --no-loadscope-reorder

## test-slow: the slow checks that the default suite leaves out
test-slow: $(NETS)
	$(PY) -m pytest -q -m slow

## bench: run the benchmarks and rewrite BENCHMARKS.md
bench: $(STAMP)
	$(PY) benchmarks/run.py --out BENCHMARKS.md

## lint: ruff, mypy (strict) and the floors of the package (scripts/check_layers.py)
lint: $(NETS)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy
	$(PY) scripts/check_layers.py

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks scripts
	$(VENV)/bin/ruff check --fix src tests benchmarks scripts

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
