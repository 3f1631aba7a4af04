# Two entry points, both working on a fresh machine with Python 3.11 and pip:
#   make demo   create .venv, install, render the bundled demo shot, print where the output is
#   make test   create .venv, install with test extras, run the whole test suite
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: demo test clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/hyperseg-vfx demo --out demo_output --force

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) demo_output
