# IDR — the two commands in the README, plus their parts.
# Everything the commands need (Node 24, npm packages, the embedded FerretDB) is installed by
# scripts/bootstrap.sh into .cache/ and node_modules/ on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
BOOT = export PATH="$$(bash scripts/bootstrap.sh)";

.PHONY: reindex audit-verify demo test test-corpus typecheck lint bench bootstrap web

bootstrap:
	@$(BOOT) node --version

## make demo: start IDR with demo data on the embedded database (PORT, default 8080); development
## mode (GraphiQL, unmasked GraphQL errors) unless NODE_ENV says otherwise, with the demo accounts
## (IDR_DEMO_AUTH, docs/security.md). `node api/main.ts` alone is production.
demo: web
	@$(BOOT) NODE_ENV="$${NODE_ENV:-development}" IDR_DEMO_AUTH="$${IDR_DEMO_AUTH:-true}" node api/main.ts --demo

## make test: type-check, lint, then the whole test suite against the embedded database
test: web
	@$(BOOT) bash scripts/install-test-deps.sh && npx tsc -p tsconfig.json && npx tsc -p web/tsconfig.json && npx eslint . && node tools/check-cycles.ts && npx vitest run

## make test-corpus: the *.corpus.test.ts files, which read the third-party sample corpus
## (../shared/corpus beside the repository, or IDR_CORPUS_DIR); fails at once when it is missing
test-corpus:
	@$(BOOT) npx vitest run --config vitest.corpus.config.ts

## make web: build the clinician web page (web/) into web/dist, which IDR serves at /app/
web:
	@$(BOOT) npm run build:web

typecheck:
	@$(BOOT) npx tsc -p tsconfig.json

lint:
	@$(BOOT) npx eslint . && node tools/check-cycles.ts

## make bench: run the benchmarks in bench/ (not part of the test suite)
bench:
	@$(BOOT) for f in bench/*.bench.ts; do node "$$f"; done

## make reindex: re-derive stored search values and rebuild every timeline (after a mapping or search-parameter change, or an upgrade)
reindex:
	@$(BOOT) node api/reindex.ts

## make audit-verify: check the access audit hash chain (prints the first broken record; exit 1 when broken)
audit-verify:
	@$(BOOT) node api/audit-verify.ts
