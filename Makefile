# agent: gossip membership and orchestration daemon, wire-compatible with Serf 0.10.
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS        ?= ./...
FUZZTIME    ?= 20s
BENCH_TMP   ?= $(CURDIR)/.bench
SERF_VERSION ?= v0.10.2

.PHONY: help run build test lint tidy fuzz bench microbench

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-11s %s\n", $$1, $$2}'

run: ## run an agent with default settings
	$(GO) run ./cmd/agent run

build: ## build bin/agent
	$(GO) build -o bin/agent ./cmd/agent

test: ## run every test with the race detector (one package at a time: the cluster tests are timing-sensitive)
	$(GO) test -race -count=1 -p 1 -timeout 9m $(PKGS)
	$(GO) test -count=1 -run 'Synctest|SuiteSmoke' ./gossip/ ./gossip/memnet/ ./internal/bench/suite/  # synctest tests that cannot run under -race on Go 1.26

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

tidy: ## fail if go.mod or go.sum are not tidy
	$(GO) mod tidy -diff

fuzz: ## run each fuzz target for FUZZTIME
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench: ## run the benchmark suite beside Serf: print the table, update docs/performance.md and docs/bench/
	rm -rf $(BENCH_TMP) && mkdir -p $(BENCH_TMP)
	GOBIN=$(CURDIR)/bin $(GO) install github.com/hashicorp/serf/cmd/serf@$(SERF_VERSION)
	BENCH_OUT=$(BENCH_TMP) $(GO) test -count=1 -run '^TestSuite$$' -timeout 15m ./internal/bench/suite/
	BENCH_OUT=$(BENCH_TMP) AGENT_SCALE=1000 $(GO) test -count=1 -run '^TestSynctestScale$$' -timeout 30m ./gossip/
	BENCH_OUT=$(BENCH_TMP) SERF_BIN=$(CURDIR)/bin/serf $(GO) test -count=1 -run '^$$' -bench '^BenchmarkAgentProcesses$$' -benchtime 1x -timeout 5m ./cmd/agent/
	BENCH_OUT=$(BENCH_TMP) SERF_BIN=$(CURDIR)/bin/serf $(GO) test -count=1 -run '^$$' -bench '^BenchmarkAgentFleet$$' -benchtime 1x -timeout 30m ./cmd/agent/
	BENCH_OUT=$(BENCH_TMP) $(GO) test -count=1 -run '^$$' -bench '^BenchmarkMetricsOverhead$$' -benchtime 20000x ./agent/
	$(GO) run ./internal/bench/report -in $(BENCH_TMP) -docs docs

microbench: ## run the Go micro-benchmarks (decoders, the in-memory network)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 10m $$($(GO) list ./... | grep -v -e /internal/bench -e /cmd/agent)
