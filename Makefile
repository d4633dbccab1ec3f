# kubectl-sandbox. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
export GOTOOLCHAIN := local

MODULE   := github.com/kubectl-sandbox/kubectl-sandbox
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
# The commit's date, as a release's: an up-to-date binary is not linked
# again (0.8 s against 3 s, before every cluster start and test run).
DATE     ?= $(shell hack/build-date.sh)
# No DWARF from the compiler: -s -w drop it from the binaries anyway, and
# without it the compiler takes about a fifth less time (cold builds on 2
# cores: 165-178 s against 192-250 s for client-go and core validation).
GCFLAGS  := all=-dwarf=false
# The checks and the end-to-end tests compile as `make build` does (no cgo,
# -trimpath, GCFLAGS), so that the packages compiled once serve them all:
# on an empty build cache, after `make build`, `go vet ./...` took 320 s
# with cgo and full paths and 152 s with the build's settings (2026-12-07,
# 2 cores). The unit tests need cgo for the race detector.
ASBUILD  := env CGO_ENABLED=0 go
ASBUILDFLAGS := -trimpath -gcflags='$(GCFLAGS)'
LDFLAGS  := -s -w -X $(MODULE)/pkg/plugin/version.version=$(VERSION) \
            -X $(MODULE)/pkg/plugin/version.commit=$(COMMIT) \
            -X $(MODULE)/pkg/plugin/version.date=$(DATE)

.PHONY: help build test cross unit fuzz e2e e2e-release cluster-up cluster-build cluster-down demo bench release lint vet fmt-check tidy-check golangci

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/kubectl-sandbox
	hack/heartbeat.sh "the plugin" $(ASBUILD) build $(ASBUILDFLAGS) -ldflags '$(LDFLAGS)' -o bin/kubectl-sandbox ./cmd/kubectl-sandbox

test: lint cross unit fuzz e2e ## run every check and test (the README's test command)

cross: ## build the plugin for every platform of the Krew manifest (a check: no binaries kept)
	hack/cross-build.sh

unit: ## unit and command tests, with the race detector; prints coverage of pkg/ (floor 80%)
	@mkdir -p _output
	go test -race -gcflags='$(GCFLAGS)' -count=1 -timeout 10m -v -coverprofile=_output/unit.cover ./...
	hack/coverage.sh _output/unit.cover 80

# The packages with fuzz targets, and how long each target runs. Go fuzzes
# one target per `go test`; the targets are found by their declarations
# (`go test -list` would link each package's test binary once more). Go
# before 1.27 may end a run at FUZZTIME with a bare "context deadline
# exceeded" and no failing input (golang/go#75804): that is no finding.
FUZZ_PKGS ?= $(sort $(dir $(shell grep -rl --include='*_test.go' '^func Fuzz' pkg cmd 2>/dev/null)))
FUZZTIME  ?= 2s

fuzz: ## each fuzz target for FUZZTIME (default 2s; longer: make fuzz FUZZTIME=10m); a failing input is kept in testdata/fuzz
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	for pkg in $(FUZZ_PKGS); do \
	  targets=$$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$pkg*_test.go); \
	  for target in $$targets; do \
	    echo "go test -gcflags='$(GCFLAGS)' -run='^$$' -fuzz='^$$target\$$' -fuzztime=$(FUZZTIME) -parallel=1 ./$$pkg"; \
	    if go test -gcflags='$(GCFLAGS)' -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) -parallel=1 ./$$pkg >"$$log" 2>&1; then \
	      cat "$$log"; \
	    elif grep -qx '    context deadline exceeded' "$$log" && ! grep -q 'Failing input written' "$$log"; then \
	      grep '^fuzz: ' "$$log" || true; \
	      echo "make fuzz: $$target: not a finding (golang/go#75804: the run ended without a failing input)"; \
	    else cat "$$log"; exit 1; fi; \
	  done; \
	done

# The release tests need no cluster and run first; a failure there does not
# keep the cluster's tests from running.
e2e: build cluster-build ## end-to-end tests: test/release (no cluster), then through the real kubectl on the local cluster
	@mkdir -p _output
	@status=0; \
	$(MAKE) --no-print-directory e2e-release || status=1; \
	echo "$(ASBUILD) test $(ASBUILDFLAGS) -count=1 -tags e2e -timeout 40m -v ./test/e2e/..."; \
	$(ASBUILD) test $(ASBUILDFLAGS) -count=1 -tags e2e -timeout 40m -v ./test/e2e/... 2>&1 | tee _output/e2e.log || status=1; \
	exit $$status

e2e-release: ## the release's tests, no cluster: reproducible archives, the Krew index (install, upgrade, uninstall), go install
	@mkdir -p _output
	$(ASBUILD) test $(ASBUILDFLAGS) -count=1 -tags e2e -timeout 30m -v ./test/release/... 2>&1 | tee _output/e2e-release.log

cluster-up: build ## start the local agent-sandbox cluster (builds it on first use)
	hack/cluster-up.sh

cluster-build: ## build what the local cluster runs (tools, gVisor, Traefik, images; cached by content) and start nothing
	CLUSTER_BUILD_ONLY=1 hack/cluster-up.sh

demo: build ## the main job: a one-shot sandbox through kubectl (starts the local cluster if no other)
	hack/demo.sh

bench: build ## benchmarks against kubectl and curl on the local cluster (-> docs/benchmarks.md)
	hack/cluster-up.sh
	@mkdir -p docs
	go run ./test/bench -out docs/benchmarks.md

cluster-down: ## stop the local cluster
	hack/cluster-down.sh

release: ## archives, SBOMs, checksums, the Krew manifest in dist/, and a commit to the Krew index (VERSION=vX.Y.Z [PLATFORMS="linux/amd64 ..."])
	@test -n "$(filter v%,$(VERSION))" || { echo "usage: make release VERSION=vX.Y.Z" >&2; exit 1; }
	hack/release.sh $(VERSION) $(if $(PLATFORMS),"$(PLATFORMS)")

lint: vet fmt-check tidy-check golangci ## go vet, gofmt, go mod tidy and golangci-lint

vet: # with the build's settings: the packages it compiles serve them too
	$(ASBUILD) vet $(ASBUILDFLAGS) ./...
	$(ASBUILD) vet $(ASBUILDFLAGS) -tags e2e ./test/e2e/... ./test/release/...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

tidy-check:
	hack/check-tidy.sh

golangci:
	hack/lint.sh
