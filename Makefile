# Two commands on a fresh machine:
#   make demo   installs Plinth into .venv and renders + validates the example claims
#   make test   installs Plinth with its dev tools into .venv and runs ruff, mypy and pytest
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint generate bench bench-e2e corpus load fuzz crossplane-tools package e2e e2e-gitops chaos clean

# Plinth with its tools (`plinth[cli]`), what `make demo` needs.
$(BIN)/.installed-cli: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[cli]'
	touch $@

# Plinth with its tools and the dev tools, what `make test` needs.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(BIN)/.installed-cli

demo: $(BIN)/.installed-cli
	$(BIN)/plinth render examples/tenant.yaml
	$(BIN)/plinth validate --render examples/

lint: $(BIN)/.installed
	$(BIN)/ruff check functions tests benchmarks templates
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 -q

generate: $(BIN)/.installed
	$(BIN)/plinth generate

# Plinth's Crossplane packages (function with its runtime image, both Configurations) in
# _output/, built with the pinned crossplane CLI; see README "Installing into a management cluster".
package: $(BIN)/.installed
	hack/build-tools.sh crossplane crane
	$(BIN)/plinth package build

# The slower tier: builds what is missing (cached in ~/.cache/plinth), starts a local management
# cluster (etcd, kube-apiserver, kube-controller-manager, Crossplane, provider-kubernetes, plinth
# serve, an OCI registry), installs Plinth through Crossplane's package manager from that
# registry, runs tests/e2e (the runtime image test, the install, the claims, an upgrade) and
# tears it all down.
e2e: $(BIN)/.installed
	hack/build-tools.sh etcd kube-apiserver kube-controller-manager crossplane-core provider-kubernetes \
	  crossplane registry crane
	PLINTH_CRDS_DIR=$${PLINTH_CRDS_DIR:-$(abspath ../shared/crds)} $(BIN)/pytest -m 'e2e and not gitops and not chaos' tests/e2e -s -q -p no:xdist

# Faults on the same cluster (tests/e2e/test_chaos_e2e.py): plinth serve, provider-kubernetes,
# Crossplane, kube-apiserver and etcd killed and restarted, an invalid platform config, a claim
# deleted while the function is down; mid-way and at steady state. About 20 minutes.
chaos: $(BIN)/.installed
	hack/build-tools.sh etcd kube-apiserver kube-controller-manager crossplane-core provider-kubernetes \
	  crossplane registry crane
	PLINTH_CRDS_DIR=$${PLINTH_CRDS_DIR:-$(abspath ../shared/crds)} $(BIN)/pytest -m chaos tests/e2e -s -q -p no:xdist

# The same cluster with real Argo CD (plinth dev up --with-argocd --legacy): a claim repository
# on a local git server, synced by gitops/claims/; needs redis-server (Debian's package).
e2e-gitops: $(BIN)/.installed
	hack/build-tools.sh etcd kube-apiserver kube-controller-manager crossplane-core provider-kubernetes \
	  crossplane registry crane argocd
	PLINTH_CRDS_DIR=$${PLINTH_CRDS_DIR:-$(abspath ../shared/crds)} $(BIN)/pytest -m gitops tests/e2e -s -q -p no:xdist

# Figures, not assertions: in-process and gRPC latency per recorded request, 1,000 claims in
# rotation, a 200-claim repository validated (a few minutes).
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run_function.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/validate_repo.py

# Figures from the local control plane (benchmarks/control_plane.py): a TenantClaim to every
# in-cluster Object Ready and deleted to gone, 50 TenantClaims and 50 AppClaims applied at once
# to Ready, function calls per steady claim per hour. Starts and stops its own dev cluster
# (or uses PLINTH_DEV_KUBECONFIG's). About 15 minutes.
bench-e2e: $(BIN)/.installed
	hack/build-tools.sh etcd kube-apiserver kube-controller-manager crossplane-core provider-kubernetes \
	  crossplane registry crane
	PLINTH_CRDS_DIR=$${PLINTH_CRDS_DIR:-$(abspath ../shared/crds)} $(BIN)/python benchmarks/control_plane.py

# Re-record tests/data/requests/ (every example claim in every phase, in-process).
corpus: $(BIN)/.installed
	$(BIN)/python benchmarks/make_corpus.py

# 60 s of concurrent RunFunction calls (32 in flight per server, insecure and mTLS) and 100,000
# mutated requests against `plinth serve`; see docs/observability.md for the figures.
load: $(BIN)/.installed
	$(BIN)/python benchmarks/load_grpc.py --seconds 60 --concurrency 32

fuzz: $(BIN)/.installed
	$(BIN)/python benchmarks/fuzz_grpc.py --mutations 100000

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
