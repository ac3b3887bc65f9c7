# IDR — the two commands in the README, plus their parts.
# Everything the commands need (Node 24, npm packages, the embedded FerretDB) is installed by
# scripts/bootstrap.sh into .cache/ and node_modules/ on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
BOOT = export PATH="$$(bash scripts/bootstrap.sh)";

.PHONY: demo test typecheck lint unit bench bootstrap

bootstrap:
	@$(BOOT) node --version

## make demo: start IDR with demo data on the embedded database (PORT, default 8080)
demo:
	@$(BOOT) node api/main.ts --demo

## make test: type-check, lint, then the whole test suite against the embedded database
test:
	@$(BOOT) bash scripts/install-test-deps.sh && npx tsc -p tsconfig.json && npx eslint . && node tools/check-cycles.ts && npx vitest run

typecheck:
	@$(BOOT) npx tsc -p tsconfig.json

lint:
	@$(BOOT) npx eslint . && node tools/check-cycles.ts

## make bench: run the benchmarks in bench/ (not part of the test suite)
bench:
	@$(BOOT) for f in bench/*.bench.ts; do node "$$f"; done
