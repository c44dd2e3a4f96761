# The two commands people need are `make run` and `make test`; the rest are shortcuts.
SHELL := /usr/bin/env bash
export GOTOOLCHAIN := local

.PHONY: run test test-short test-localazure bench bench-pipeline fmt vet

run: ## run the whole app locally on the built-in stand-ins (no Docker, no Azure); LOCALAZURE_PORT_OFFSET=100 make run moves every port
	./scripts/run-local.sh

test: ## install what the tests need, then run every test
	./scripts/test.sh

test-localazure: ## localazure's own tests only (installs Azurite and the interop clients)
	./scripts/test.sh -localazure

test-short: ## the app's fast loop: unit tests of every module but localazure
	./scripts/test.sh -short

bench: ## benchmarks (figures are ratios against a baseline measured in the same run)
	./scripts/bench.sh

bench-pipeline: ## the whole order flow on an open-loop rate ladder, the app against a raw loop of its SDK calls (about 4 min per round; ROUNDS=3)
	./scripts/install-run-deps.sh
	mkdir -p bin && go build -o bin/ ./localazure/cmd/localazure ./frontend ./backend ./tools/pipeline
	bin/pipeline -rounds $${ROUNDS:-1}

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	go vet $$(go list -f '{{.Dir}}/...' -m)
