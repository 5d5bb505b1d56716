# The two commands a newcomer needs:
#   make conformance   build, run the suites against the embedded reference, write reports/
#   make test          unit tests and suites (with the race detector)
GO      ?= go
TARGET  ?= reference
REPORTS ?= reports
GINKGO  := $(GO) tool ginkgo

.PHONY: all build test conformance vet fmt clean

all: build

build:
	$(GO) build -o bin/mtlsgate ./cmd/mtlsgate

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi

test: vet
	$(GO) test -race -count=1 ./...

# The suites run against $(TARGET); reports/junit.xml and reports/summary.md are written even when
# a spec fails, and the exit status says whether the run passed.
conformance: build
	@mkdir -p $(REPORTS)
	@status=0; \
	MTLSGATE_TARGET=$(TARGET) $(GINKGO) run --json-report=ginkgo.json --output-dir=$(REPORTS) ./suites/... || status=1; \
	./bin/mtlsgate report --ginkgo-json $(REPORTS)/ginkgo.json --out $(REPORTS) --profiles kong || status=1; \
	exit $$status

clean:
	rm -rf bin $(REPORTS)/ginkgo.json $(REPORTS)/junit.xml $(REPORTS)/summary.md
