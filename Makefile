# Two entry points, both working on a fresh machine with Python 3.11 and pip:
#   make demo   create .venv, install, render the bundled demo shot, print where the output is
#   make test   create .venv, install with test extras, run the whole test suite
#   make gpu-check  on a GPU host: bench at 2K and 4K (float16), CPU-vs-GPU alphas, a 2K render, a bridge
#               round trip and 50 AMP training steps, into gpu_check.json (python -m hyperseg_vfx.gpu_check)
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

.PHONY: demo test gpu-check clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/hyperseg-vfx demo --out demo_output --force

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest

gpu-check: $(INSTALLED)
	$(VENV)/bin/python -m hyperseg_vfx.gpu_check --out gpu_check.json

clean:
	rm -rf $(VENV) demo_output
