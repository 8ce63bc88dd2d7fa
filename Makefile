# The one command that checks everything is `make test`; .ci/run calls it.
GO        ?= go
# An execution count, not a duration: go1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" when a -fuzztime duration
# ends while a worker is mid-call (golang/go#75804, fixed in go1.27).
FUZZTIME  ?= 30000x
BENCHTIME ?= 1s
PKGS       = ./...

.PHONY: test vet fmt-check unit fuzz interop interop-deps interop-python bench binsize demo mutate load

test: vet fmt-check unit fuzz interop

# fakemsi must build for macOS and Windows too (its exec and ca commands have
# per-OS files): vet cross-compiles every package for both.
vet:
	$(GO) vet $(PKGS)
	GOOS=darwin $(GO) vet $(PKGS)
	GOOS=windows $(GO) vet $(PKGS)

# gofmt -l prints the files that are not formatted; any output fails the target.
fmt-check:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 $(PKGS)

# Every Fuzz function in the tree runs for FUZZTIME executions (go test -fuzz takes one target at a time).
fuzz:
	@bash .ci/fuzz.sh $(FUZZTIME)

# The interop module proves that real clients (azidentity, @azure/identity) accept the emulator.
interop: interop-deps
	@if [ -f interop/go.mod ]; then \
		cd interop && $(GO) vet ./... && GOOS=darwin $(GO) vet ./... && GOOS=windows $(GO) vet ./... && \
			$(GO) test -race -count=1 ./... ; \
	fi
	@if [ -f interop/js/package.json ]; then \
		cd interop/js && node --test ; \
	fi
	@$(MAKE) --no-print-directory interop-python

# Debian's azure-identity, MSAL Python and the Azure CLI against the emulator.
# Without python3-azure, python3-msal or azure-cli it names what is missing and
# passes, except under CI=true (.ci/run installs them).
interop-python: interop-deps
	bash interop/python/run.sh

interop-deps:
	@if [ -f interop/js/package-lock.json ] && [ ! -d interop/js/node_modules ]; then \
		cd interop/js && npm ci --no-audit --no-fund ; \
	fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)
	@if [ -f interop/go.mod ]; then \
		cd interop && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./... ; \
	fi

# Load runs (issue 11; not part of `make test`): the credential under 10,000
# goroutines across 100 tenants for 10 s, the emulator under 1,000 clients for
# 30 s, the token cache with 100,000 tenants. Loopback only, bounded, exits 1
# when a run misses its criteria. Results: docs/reliability.md, "Load".
# LOADFLAGS passes flags, e.g. LOADFLAGS='-runs cache -cache-tenants 1000'.
LOADFLAGS ?=
load:
	$(GO) run ./internal/cmd/loadtest $(LOADFLAGS)

# Binary size of examples/functionapp against the same program on azidentity (docs/performance.md).
binsize:
	bash scripts/binsize.sh

demo:
	$(GO) run ./cmd/fakemsi demo

# Mutation testing (not in make test): each mutation in
# scripts/mutate/mutations.txt is a small bug the suite must catch; prints the
# score, fails on any missed or stale entry. docs/testing.md keeps the score.
mutate:
	$(GO) run ./scripts/mutate
