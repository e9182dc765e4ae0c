# Exchange — the two commands: `make run` and `make test`.
GO      ?= go
BIN     := bin/exchange
PKGS    := ./...

.PHONY: run build test test-fast bench fuzz lint fmt tidy-check clean

run: build
	./$(BIN) dev $(ARGS)

build:
	$(GO) build -o $(BIN) ./cmd/exchange

# Everything CI checks: formatting, vet, go.mod drift, unit + integration
# tests (PostgreSQL and Apache Kafka started by deploy/local scripts when
# not given), race tests, fuzz seed corpora and a short fuzz run.
test:
	bash deploy/local/test.sh

# Unit tests only, no external servers.
test-fast:
	$(GO) test -short -timeout 10m $(PKGS)

bench:
	bash deploy/local/bench.sh

fuzz:
	FUZZTIME=$${FUZZTIME:-60s} bash deploy/local/fuzz.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting (make fmt)"; exit 1)
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

tidy-check:
	bash deploy/local/tidy-check.sh

clean:
	rm -rf bin .exchange-dev
