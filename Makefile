# evctl: `make demo` runs the main job on the embedded local stack; `make test` runs every test.
GO      ?= go
TOOLS   := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)
export EVCTL_BUF := $(TOOLS)/bin/buf

.PHONY: all build tools test demo bench fuzz vet clean

all: build

build:
	$(GO) build -o $(TOOLS)/bin/evctl ./cmd/evctl

tools:
	scripts/install-tools.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd pkg scripts)" || (echo "gofmt needed:"; gofmt -l cmd pkg scripts; exit 1)

test: tools vet
	$(GO) test -count=1 ./...

# The demo reads its Delta rows back with DuckDB for Node when node is here (a few seconds of npm).
demo: build
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then scripts/install-duckdb.sh || echo "demo: DuckDB for Node could not be installed; the demo lists the Parquet files instead"; fi
	scripts/demo.sh

bench: build tools
	scripts/bench.sh
	scripts/bench-incremental.sh
	scripts/bench-breaking.sh
	scripts/bench-apply.sh
	scripts/bench-plan.sh
	scripts/bench-gateway.sh
	scripts/bench-gateway-registry.sh
	scripts/bench-clickhouse.sh
	scripts/bench-count.sh
	scripts/bench-ingest.sh
	scripts/bench-route.sh
	scripts/bench-rss.sh

# Short fuzz runs of every parser (FUZZTIME=1m for longer).
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./pkg/contracts/contract -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/protogen -run '^$$' -fuzz FuzzRawParsed -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/protogen -run '^$$' -fuzz FuzzFormParsed -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/consumer -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/transform -run '^$$' -fuzz FuzzTemplate -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/lint -run '^$$' -fuzz FuzzCheck -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/lint -run '^$$' -fuzz FuzzConfig -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/lint -run '^$$' -fuzz '^FuzzIncrIndex$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/lint -run '^$$' -fuzz '^FuzzIncrIndexDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/breaking -run '^$$' -fuzz FuzzDescriptorSet -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/convert -run '^$$' -fuzz FuzzConvert -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/gateway -run '^$$' -fuzz FuzzEnvelope -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/count -run '^$$' -fuzz FuzzExtract -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/count -run '^$$' -fuzz FuzzOutbox -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/route -run '^$$' -fuzz FuzzRetryAfter -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/count -run '^$$' -fuzz FuzzSource -fuzztime $(FUZZTIME)
	$(GO) test ./examples/monitoring -run '^$$' -fuzz FuzzMetricNames -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/gateway -run '^$$' -fuzz FuzzParseTokens -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/gateway -run '^$$' -fuzz FuzzConnectEnvelope -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/storage/deltalog -run '^$$' -fuzz FuzzParseCommit -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/storage/deltalog -run '^$$' -fuzz FuzzRetention -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/control/plan -run '^$$' -fuzz FuzzReadSaved -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/control/envplan -run '^$$' -fuzz FuzzPlanCache -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/typemap -run '^$$' -fuzz FuzzParseDeltaSchema -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/typemap -run '^$$' -fuzz FuzzCHFeaturesFor -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/storage/descstore -run '^$$' -fuzz FuzzDecodeIndex -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/storage/descstore -run '^$$' -fuzz FuzzDecodeConsumerDef -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/ingest/delta -run '^$$' -fuzz FuzzHandle -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/ingest/delta -run '^$$' -fuzz FuzzShredInline -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/ingest/bigquery -run '^$$' -fuzz FuzzDecodeManifest -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/data/protosafe -run '^$$' -fuzz FuzzUnmarshal -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/fielddiff -run '^$$' -fuzz FuzzCompare -fuzztime $(FUZZTIME)
	$(GO) test ./pkg/contracts/config -run '^$$' -fuzz FuzzParseCredentialsStore -fuzztime $(FUZZTIME)

clean:
	rm -rf $(TOOLS)/bin/evctl .evctl
