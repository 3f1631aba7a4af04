# Two entry points, both working on a fresh machine with Python 3.11 and pip:
#   make demo   create .venv, install, render the bundled demo shot, print where the output is
#   make test   create .venv, install with test extras, check that nuke_plugin/ needs no Python
#               newer than 3.7 (vermin), run the whole test suite, then the Nuke plugin's portable
#               tests under each real Nuke Python found in ~/.pyenv (3.7: Nuke 13, 3.11: Nuke 16)
#   make gpu-check  on a GPU host: bench at 2K and 4K (float16), CPU-vs-GPU alphas (float32, float16), a 2K render, a bridge
#               round trip and 50 AMP training steps, into gpu_check.json (python -m hyperseg_vfx.gpu_check)
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

#: Real interpreters of Nuke 13 (3.7) and Nuke 16 (3.11), where ~/.pyenv has them.
NUKE_PYTHONS := $(firstword $(wildcard $(HOME)/.pyenv/versions/3.7*/bin/python3)) \
                $(firstword $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3))

.PHONY: demo test test-nuke-pythons gpu-check clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/hyperseg-vfx demo --out demo_output --force

test: $(INSTALLED)
	$(VENV)/bin/vermin --target=3.7- --no-tips --violations --eval-annotations nuke_plugin/
	$(VENV)/bin/python -m pytest
	$(MAKE) test-nuke-pythons

# Each interpreter gets a small venv (pytest, numpy: what the fake nuke needs) in .venv-nuke-X.Y.
test-nuke-pythons:
	@for py in $(strip $(NUKE_PYTHONS)); do \
	  version=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); venv=.venv-nuke-$$version; \
	  [ -x $$venv/bin/python ] || { $$py -m venv $$venv && $$venv/bin/python -m pip install --quiet pytest numpy; } || exit 1; \
	  echo "Nuke plugin under Python $$version"; \
	  $$venv/bin/python -m pytest --noconftest -p no:cacheprovider -q tests/test_nuke_portable.py || exit 1; \
	done; [ -n "$(strip $(NUKE_PYTHONS))" ] || echo "no Python 3.7 / 3.11 in ~/.pyenv: the plugin's portable run is skipped"

gpu-check: $(INSTALLED)
	$(VENV)/bin/python -m hyperseg_vfx.gpu_check --out gpu_check.json

clean:
	rm -rf $(VENV) .venv-nuke-* demo_output
