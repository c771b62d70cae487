# sessionnet.virtual_ip: the two commands of the README are `make demo` and `make test`.
# Both create .venv from the project's own files (Python 3.12 preferred, 3.11+ accepted).

SHELL := /bin/bash
PYTHON_BOOT := $(shell scripts/find-python.sh)
VENV := .venv
PY := $(VENV)/bin/python
WORK := .work
COLLECTIONS := $(WORK)/collections
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: all venv demo demo-reset test build install-collection clean system-deps bpf windows

all: test

$(VENV)/.installed: pyproject.toml requirements/constraints-py3.12.txt scripts/find-python.sh
	@test -n "$(PYTHON_BOOT)" || { echo "need Python 3.11+ with venv" >&2; exit 1; }
	@echo "== creating $(VENV) with $(PYTHON_BOOT)"
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@ver=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  cons=""; test -f requirements/constraints-py$$ver.txt && cons="-c requirements/constraints-py$$ver.txt"; \
	  echo "== installing sessionnet-vip[dev] (Python $$ver) $$cons"; \
	  $(PY) -m pip install --quiet --disable-pip-version-check $$cons -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# The Linux data plane's eBPF object (clang -target bpf, warnings as errors), shipped in the package.
bpf:
	$(MAKE) -C native/bpf

# The Windows data plane (native/windows): viprun.exe + sessionnet_vipdp.dll for x64 and x86,
# cross-built with mingw-w64 into build/windows/<arch>/ and copied where the vip_agent role
# ships them from (roles/vip_agent/files/windows/<arch>/, gitignored, inside the tarball).
WINDOWS_OUT := build/windows
WINDOWS_SHIP := roles/vip_agent/files/windows
windows:
	@command -v x86_64-w64-mingw32-gcc >/dev/null && command -v i686-w64-mingw32-gcc >/dev/null \
	  || scripts/install-system-deps.sh \
	  || { echo "make windows needs mingw-w64: as root run apt-get install gcc-mingw-w64-x86-64 gcc-mingw-w64-i686" >&2; exit 1; }
	$(MAKE) --no-print-directory -C native/windows OUT=$(CURDIR)/$(WINDOWS_OUT)
	@for a in x64 x86; do mkdir -p $(WINDOWS_SHIP)/$$a && \
	  cp -p $(WINDOWS_OUT)/$$a/viprun.exe $(WINDOWS_OUT)/$$a/sessionnet_vipdp.dll $(WINDOWS_SHIP)/$$a/; done

build: venv bpf windows
	@mkdir -p $(WORK)/dist
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(WORK)/dist .

install-collection: build
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) \
	  $(VENV)/bin/ansible-galaxy collection install --force -p $(COLLECTIONS) $(WORK)/dist/sessionnet-virtual_ip-*.tar.gz

# The demo's venv has everything a controller needs (sessionnet-vip, pywinrm, pypsrp: the dev
# extras). Results are printed as YAML so that Windows paths read with single backslashes.
demo: install-collection
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) ANSIBLE_STDOUT_CALLBACK=default \
	  ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
	  $(VENV)/bin/ansible-playbook -i playbooks/inventory/demo.yml playbooks/demo.yml

# Forget what the simulated hosts and the engine demo kept from earlier runs.
demo-reset:
	rm -rf $(WORK)/demo

system-deps:
	scripts/install-system-deps.sh

test: venv system-deps bpf
	scripts/run-checks

clean:
	rm -rf $(VENV) $(WORK) tests/output $(WINDOWS_OUT) $(WINDOWS_SHIP)
	$(MAKE) -C native/bpf clean
