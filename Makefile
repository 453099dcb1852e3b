# GoMs developer tasks. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# buf is pinned in its own module (tools/buf/go.mod): its dependencies
# would move versions in the main go.mod.
BUF := go tool -modfile=tools/buf/go.mod buf
# The other tools are pinned in modules under tools/ too, so that the
# library's go.mod holds only what it imports: the code generators
# buf.gen.yaml runs in tools/protoc, grpcurl, grpc-health-probe and hey in
# tools/clients, benchstat in tools/benchstat, staticcheck in
# tools/staticcheck. Run one with go tool -modfile=tools/<module>/go.mod <tool>.
STATICCHECK := go tool -modfile=tools/staticcheck/go.mod staticcheck
# Golden cases of the generator, one buf.gen.yaml each.
GOLDENS := internal/gen/testdata
CASES := $(sort $(wildcard $(GOLDENS)/*/buf.gen.yaml))
# The tests' fixtures (generated code, not goldens): one buf.gen.yaml.
FIXTURES := internal/fixtures
# Where generated code lives (git pathspecs).
GENERATED := ':(glob)examples/*/gen/**' ':(glob)$(GOLDENS)/**/*.go' \
	':(glob)$(FIXTURES)/*/*.pb.go' ':(glob)$(FIXTURES)/*/*.pb.gw.go' ':(glob)$(FIXTURES)/*/*.goms.go' \
	':(glob)bench/size/gen/**' ':(glob)bench/internal/gen/**' ':(glob)test/connect/gen/**'
# Golden implementation skeletons, proto file (under $(GOLDENS)):package
# directory. goms skeleton never overwrites a file, so generate removes
# them first.
SKELETONS := mains/mains.proto:$(GOLDENS)/mains/impl names/names.proto:$(GOLDENS)/names/s \
	implpkg/audit/audit.proto:$(GOLDENS)/implpkg/impl/audit implpkg/todo/todo.proto:$(GOLDENS)/implpkg/impl/todo

.PHONY: help
help: ## Describe the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

.PHONY: run
run: ## Run the example shop in gateway mode (gRPC 127.0.0.1:42001, HTTP 127.0.0.1:8080)
	go run ./examples/shop/cmd/shop

.PHONY: tools
tools: ## Build the pinned grpcurl and grpc-health-probe into .tmp/bin (then: export PATH=$$PWD/.tmp/bin:$$PATH)
	go build -modfile=tools/clients/go.mod -o .tmp/bin/ github.com/fullstorydev/grpcurl/cmd/grpcurl github.com/grpc-ecosystem/grpc-health-probe

.PHONY: test
test: lint checkgenerate ## Run all checks and tests (race detector on): what CI runs
	go test -race -count=1 ./...
	cd bench && go test -race -count=1 ./...
	cd bench/size && go test -count=1 .
	cd test/scaffold && go test -count=1 .
	cd test/connect && go test -race -count=1 .
	cd test/openapi && go test -count=1 .
	cd test/browser && go test -count=1 .
	cd bench && go test -run='^$$' -bench=. -benchtime=1x .
	$(MAKE) fuzz

# How much make fuzz runs each fuzz target: a count of executions per target
# (about 10 s each on a quiet 2-core machine), not a duration. go1.26's
# coordinator can fail a duration-bound run at its deadline with a bare
# "context deadline exceeded" and no crasher when the machine is loaded
# (go.dev/issue/75804, fixed in go1.27); a count has no deadline to race.
# FUZZTIME=60s (or 100000x) overrides every target's budget.
FUZZTIME ?=
# target:package:executions. A package under bench/ is in the bench module: go -C bench runs it.
FUZZ := FuzzHTTPJSON:./reliability/:15000x FuzzLoadConfig:.:5000x FuzzParams:./internal/gen/:20000x \
	FuzzDecodePlainJSON:./internal/gateway/:20000x FuzzVTCodec:bench/vtcheck/:50000x

.PHONY: fuzz
fuzz: ## Run each fuzz target for its budget (FUZZTIME=30s overrides); findings land in <pkg>/testdata/fuzz
	@for f in $(FUZZ); do n=$${f%%:*}; r=$${f#*:}; p=$${r%%:*}; t=$${r#*:}; m=.; \
	  [ -z "$(FUZZTIME)" ] || t=$(FUZZTIME); \
	  case $$p in bench/*) m=bench; p=./$${p#bench/};; esac; \
	  echo "go -C $$m test -run='^$$' -fuzz='^$$n\$$' -fuzztime=$$t $$p"; \
	  go -C $$m test -run='^$$' -fuzz="^$$n\$$" -fuzztime=$$t $$p || exit 1; done

.PHONY: lint
lint: googleapis ## go vet (bench, bench/size, test/scaffold, test/connect, test/openapi and test/browser too), staticcheck, gofmt, buf lint and buf format
	go vet ./...
	$(STATICCHECK) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; echo "fix: gofmt -w <files>"; exit 1; fi
	$(BUF) lint
	$(BUF) format -d --exit-code examples/shop/proto
	$(BUF) format -d --exit-code --path $(FIXTURES)
	$(BUF) format -d --exit-code $(GOLDENS)
	$(BUF) format -d --exit-code bench/size/proto
	$(BUF) format -d --exit-code bench/proto
	cd bench && go vet ./... && go tool -modfile=../tools/staticcheck/go.mod staticcheck ./...
	cd bench/size && go vet ./...
	cd test/scaffold && go vet ./... && go tool -modfile=../../tools/staticcheck/go.mod staticcheck ./...
	cd test/connect && go vet ./... && go tool -modfile=../../tools/staticcheck/go.mod staticcheck ./...
	cd test/openapi && go vet ./... && go tool -modfile=../../tools/staticcheck/go.mod staticcheck ./...
	cd test/browser && go vet ./... && go tool -modfile=../../tools/staticcheck/go.mod staticcheck ./...

.PHONY: generate
generate: googleapis ## Regenerate the example's, the fixtures', the golden cases', bench's and bench/size's code
	$(BUF) generate
	$(BUF) generate --template $(FIXTURES)/buf.gen.yaml
	@for t in $(CASES); do echo "$(BUF) generate --template $$t"; $(BUF) generate --template $$t; done
	$(BUF) generate --template bench/buf.gen.yaml
	$(BUF) generate --template bench/vtecho.buf.gen.yaml
	$(BUF) generate --template bench/vtcheck.buf.gen.yaml
	$(BUF) generate --template bench/size/buf.gen.yaml
	$(BUF) generate --template test/connect/buf.gen.yaml
	@for s in $(SKELETONS); do f=$${s%%:*}; d=$${s#*:}; rm -f $$d/*.go; \
	  echo "go run ./cmd/goms skeleton -I $(GOLDENS) -impl_package github.com/goms-io/goms/$$d -out $$d $$f"; \
	  go run ./cmd/goms skeleton -I $(GOLDENS) -impl_package github.com/goms-io/goms/$$d -out $$d $$f >/dev/null; done

.PHONY: checkgenerate
checkgenerate: generate ## Fail if the committed generated code is not current
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
	  git status --porcelain -- $(GENERATED); \
	  echo "Generated code is not current. Fix: make generate, then commit the result."; exit 1; fi

.PHONY: googleapis
googleapis: ## Fetch google/api/*.proto into .tmp/googleapis (from a Go module)
	@scripts/googleapis.sh >/dev/null

.PHONY: corpus
corpus: ## Fetch the generator's corpus (npm google-proto-files) into .tmp/corpus
	@scripts/corpus.sh >/dev/null

.PHONY: bench
bench: ## Run the benchmark suite (-count=10) and print benchstat tables (see BENCHMARKS.md)
	scripts/bench.sh

.PHONY: instructions
instructions: ## Count instructions per call for the per-call comparisons (valgrind): noise-free, unlike time
	scripts/instructions.sh

.PHONY: load
load: googleapis ## Load-test GoMs, the raw baselines and connect-go + vanguard with ghz and hey (or wrk); prints QPS, p50, p99
	scripts/load.sh

.PHONY: size
size: ## Compare what a minimal one-service binary links: GoMs, grpc-go + grpc-gateway, connect-go + vanguard
	scripts/size.sh
