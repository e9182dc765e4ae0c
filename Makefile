# Exchange — the two commands: `make run` and `make test`.
GO      ?= go
BIN     := bin/exchange
PKGS    := ./...
export GOFLAGS ?= -buildvcs=false

.PHONY: help run build test test-fast test-race bench fuzz lint fmt tidy-check \
	kafka-start kafka-stop kafka-sasl-start kafka-sasl-stop pg-start pg-stop clean

help:
	@echo "make run         exchange dev: embedded Kafka + SQLite + HTTP on 127.0.0.1 (ARGS=--demo for traffic)"
	@echo "make test        everything CI runs: gofmt, vet, tidy, smoke, tests on real PostgreSQL + Apache Kafka, race, fuzz"
	@echo "make test-fast   unit tests only, no servers (go test -short)"
	@echo "make test-race   go test -race on the concurrent packages (RACE_PKGS)"
	@echo "make bench       Go benchmarks + exchange bench"
	@echo "make fuzz        every Fuzz* target for FUZZTIME (default 60s)"
	@echo "make lint | fmt | tidy-check | clean"
	@echo "make kafka-start | kafka-stop | kafka-sasl-start | kafka-sasl-stop | pg-start | pg-stop   local servers for go test"

run: build
	./$(BIN) dev $(ARGS)

build:
	$(GO) build -o $(BIN) ./cmd/exchange

# Everything CI checks: formatting, vet, go.mod drift, a smoke run of the
# binary, unit + integration tests (PostgreSQL and Apache Kafka started by the
# deploy/local scripts unless EXCHANGE_TEST_DATABASE_URL /
# EXCHANGE_TEST_KAFKA_BROKERS are set), race tests, a short fuzz run. Ends
# with "N passed, N failed".
test:
	bash deploy/local/test.sh

# Unit tests only, no external servers.
test-fast:
	$(GO) test -short -count=1 -timeout 10m $(PKGS)

RACE_PKGS ?= ./exchange/... ./schemas/...

test-race:
	$(GO) test -race -count=1 -timeout 30m $(RACE_PKGS)

bench:
	bash deploy/local/bench.sh

fuzz:
	FUZZTIME=$${FUZZTIME:-60s} bash deploy/local/fuzz.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting (make fmt)"; exit 1)
	$(GO) vet $(PKGS)
	$(GO) run ./deploy/local/funclen   # none over 120 lines, at most 8 over 80, none over 80 on the record path
	bash -n deploy/local/*.sh .ci/run

fmt:
	gofmt -w $$(git ls-files '*.go')

tidy-check:
	bash deploy/local/tidy-check.sh

# Servers for running go test by hand: export the printed value, e.g.
#   export EXCHANGE_TEST_KAFKA_BROKERS=$$(make -s kafka-start)
kafka-start:
	@bash deploy/local/kafka.sh start
kafka-stop:
	@bash deploy/local/kafka.sh stop
# SASL/SCRAM + ACLs; then EXCHANGE_TEST_KAFKA_SASL_CREDENTIALS=$$(bash deploy/local/kafka.sh --sasl credentials)
kafka-sasl-start:
	@bash deploy/local/kafka.sh --sasl start
kafka-sasl-stop:
	@bash deploy/local/kafka.sh --sasl stop
pg-start:
	@bash deploy/local/postgres.sh start
pg-stop:
	@bash deploy/local/postgres.sh stop

clean:
	rm -rf bin .exchange-dev
