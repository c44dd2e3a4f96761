# The two commands people need are `make run` and `make test`; the rest are shortcuts.
SHELL := /usr/bin/env bash
export GOTOOLCHAIN := local

.PHONY: run test test-short bench fmt vet

run: ## run the whole app locally on the built-in stand-ins (no Docker, no Azure)
	./scripts/run-local.sh

test: ## install what the tests need, then run every test
	./scripts/test.sh

test-short: ## fast unit-only loop
	./scripts/test.sh -short

bench: ## benchmarks (figures are ratios against a baseline measured in the same run)
	./scripts/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	go vet $$(go list -f '{{.Dir}}/...' -m)
