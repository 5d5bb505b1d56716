# The two commands a newcomer needs:
#   make conformance   build, run the suites against the embedded reference, write out/
#   make test          unit tests and suites (with the race detector)
GO      ?= go
TARGET  ?= reference
# Where every generated report goes (conformance, load, bench, soak): a directory of output only,
# apart from the reports package that writes them; `make clean` removes it whole.
REPORTS ?= out
# What `make conformance` runs: the suites of PROFILES (comma-separated: kong, alb, load) and, when
# IDS names SPEC IDs (IDS=K-MTLS-1,A-POL-1), only their specs. The reports list the rest as "not
# selected". `mtlsgate report --profiles` has the same default.
PROFILES ?= kong,alb,load
IDS     ?=
# The targets `make conformance-targets` certifies besides the embedded reference; each writes its
# reports under $(REPORTS)/targets/<name>/.
TARGETS ?= reference-container nginx haproxy
GINKGO  := $(GO) tool ginkgo

.PHONY: all build test conformance conformance-targets load bench vet fmt clean clean-images release release-check lint-ci

all: build

build:
	$(GO) build -o bin/mtlsgate ./cmd/mtlsgate

vet:
	$(GO) vet ./...
	# Files behind build tags (the release check, the soak) are vetted too, or they rot unseen.
	$(GO) vet -tags release,soak ./internal/release ./soak
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi

# The Ginkgo suites run through ginkgo, their specs spread over CONFORMANCE_PROCS processes (they
# mostly wait on timeouts and the network), while go test runs every other package beside them;
# TEST_P test binaries at a time, as the slowest (container and daemon tests) also mostly wait.
# Both use the race detector and run to the end; the suites' console prints when they finish, and
# either failing fails the target. The tests that start the mtlsgate image get it built once, here
# (as MTLSGATE_IMAGE, unless the caller set it), instead of each package compiling the static
# binary at the same time (the two longest tests were those two builds); without Docker they skip.
TEST_SUITES := ./suites/kong ./suites/alb ./suites/load
TEST_P ?= 4
test: vet
	@pkgs=$$($(GO) list ./...) || exit 1; log=$$(mktemp); status=0; nocolor=; [ -t 1 ] || nocolor=--no-color; \
	[ -n "$$MTLSGATE_IMAGE" ] || { img=$$($(GO) run ./internal/mtlsgateimage 2>/dev/null) && export MTLSGATE_IMAGE=$$img || \
	  echo "(the mtlsgate image did not build here: the tests that need it build it themselves, or skip without Docker)"; }; \
	$(GINKGO) run -race --succinct --silence-skips --keep-going --procs=$(CONFORMANCE_PROCS) $$nocolor $(TEST_SUITES) > $$log 2>&1 & suites=$$!; \
	$(GO) test -race -count=1 -p $(TEST_P) $$(echo "$$pkgs" | grep -Ev '/suites/(kong|alb|load)$$') || status=1; \
	wait $$suites || status=1; echo "== suites ($(TEST_SUITES))"; cat $$log; rm -f $$log; exit $$status

comma := ,
CONFORMANCE_SUITES = $(addprefix ./suites/,$(subst $(comma), ,$(PROFILES)))
# Ginkgo's console: a line per suite with a dot per spec (details only for failures), and every
# suite runs even if an earlier one fails. Each suite spreads its specs over CONFORMANCE_PROCS
# processes (each with its own PKI, system and 127.0.0.1:0 listeners); the specs mostly wait on
# timeouts and the network, so more processes than cores still shorten the run.
CONFORMANCE_PROCS ?= 4
# A container target's specs each start containers; twelve processes doing that at once on two
# cores made Docker calls outlast a spec's 30 s budget, so such targets run two per suite.
CONTAINER_PROCS ?= 2
GINKGO_FLAGS ?= --succinct --silence-skips --keep-going --procs=$(if $(filter $(TARGET),$(IMAGE_TARGETS)),$(CONTAINER_PROCS),$(CONFORMANCE_PROCS))

# The suites run against $(TARGET); $(REPORTS)/summary.md, junit.xml and conformance.yaml are written
# even when a spec fails, the console ends with the verdict (and each failed ID with its reason),
# and the exit status says whether the run passed. The suites compile and run side by side, each
# printing its console (ginkgo-<profile>.log) when it ends; mtlsgate report merges their
# ginkgo-<profile>.json into ginkgo.json, in PROFILES order.
# A target running the mtlsgate image (IMAGE_TARGETS) gets it built once, here, and passed to every
# suite and Ginkgo process as MTLSGATE_IMAGE (unless the caller set it), instead of each building it
# (twelve builds at once, with four processes per suite, each also compiling the static binary).
IMAGE_TARGETS := reference-container kong
conformance: build
	@mkdir -p $(REPORTS)
	@rm -f $(REPORTS)/ginkgo.json $(addprefix $(REPORTS)/ginkgo-,$(addsuffix .json,$(subst $(comma), ,$(PROFILES))))
	@echo "mtlsgate conformance against $(TARGET): profiles $(PROFILES)$(if $(IDS), and IDs $(IDS)); compiling and running the suites side by side..."
	@status=0; nocolor=; [ -t 1 ] || nocolor=--no-color; pids=; json=; \
	$(if $(filter $(TARGET),$(IMAGE_TARGETS)),[ -n "$$MTLSGATE_IMAGE" ] || { img=$$($(GO) run ./internal/mtlsgateimage) && export MTLSGATE_IMAGE=$$img || \
	  echo "(the mtlsgate image did not build; each suite tries itself, and its report says why)"; };) \
	for s in $(CONFORMANCE_SUITES); do p=$${s##*/}; json=$$json$${json:+,}$(REPORTS)/ginkgo-$$p.json; \
	  ( MTLSGATE_TARGET=$(TARGET) $(GINKGO) run $(GINKGO_FLAGS) $$nocolor $(if $(IDS),--label-filter='$(subst $(comma), || ,$(IDS))') \
	      --json-report=ginkgo-$$p.json --output-dir=$(REPORTS) $$s > $(REPORTS)/ginkgo-$$p.log 2>&1; rc=$$?; \
	    grep -Ev '^$$|^Ginkgo ran 1 suite|^Test Suite (Passed|Failed)' $(REPORTS)/ginkgo-$$p.log; exit $$rc ) & pids="$$pids $$!"; \
	done; \
	for pid in $$pids; do wait $$pid || status=1; done; \
	echo; \
	./bin/mtlsgate report --ginkgo-json $$json --out $(REPORTS) --profiles $(PROFILES) --ids '$(IDS)' --target $(TARGET) || status=1; \
	if [ -n "$$GITHUB_STEP_SUMMARY" ]; then cat $(REPORTS)/summary.md >> "$$GITHUB_STEP_SUMMARY"; fi; \
	exit $$status

# The same suites against every target in $(TARGETS), one after another; all run even if one fails.
conformance-targets: build
	@status=0; for t in $(TARGETS); do \
	  echo "== conformance against $$t"; \
	  $(MAKE) --no-print-directory conformance TARGET=$$t REPORTS=$(REPORTS)/targets/$$t || status=1; \
	done; exit $$status

# A load run against the embedded reference: $(REPORTS)/load/index.html, load.json, junit.xml.
load: build
	./bin/mtlsgate load --duration 10s --revoke-at 4s --thresholds load/thresholds.example.yaml --out $(REPORTS)/load

BENCH_FLAGS ?=

# The reference (Kong and ALB mode) against nginx and HAProxy, side by side; writes $(REPORTS)/bench.md.
# Needs nginx and haproxy; BENCH_FLAGS="--rounds 5 --duration 10s" for steadier figures.
bench: build
	./bin/mtlsgate bench --out $(REPORTS) $(BENCH_FLAGS)

clean:
	rm -rf bin $(REPORTS)

# The release, for running the suites without Go: dist/mtlsgate_<os>_<arch>/ holds a static
# mtlsgate and suites/<profile>.test (Ginkgo's precompiled suites) for linux and darwin on amd64 and
# arm64; the FROM-scratch image mtlsgate/mtlsgate:<version> (and :latest) holds the linux build for
# this machine. PLATFORMS=linux/arm64 builds fewer; RELEASE_FLAGS=--image=false skips the image.
PLATFORMS ?= linux/amd64,linux/arm64,darwin/amd64,darwin/arm64
RELEASE_FLAGS ?=
release:
	$(GO) run ./internal/release --out dist --platforms $(PLATFORMS) $(RELEASE_FLAGS)

# Proves the release: the compiled suites run outside the checkout with no Go on PATH, and the
# image certifies an external `mtlsgate serve kong` (Docker). Compiles the suites: minutes.
release-check:
	$(GO) test -tags release -count=1 -v -timeout 40m ./internal/release

# Syntax and semantics of the GitHub Actions workflows.
ACTIONLINT := github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
lint-ci:
	$(GO) run $(ACTIONLINT) .github/workflows/*.yml

# Remove the cached mtlsgate images (one per binary; the container targets rebuild what they need).
clean-images:
	-docker images mtlsgate/mtlsgate -q | xargs -r docker rmi

# Go native fuzz targets; their seed corpora are in each package's testdata/fuzz/<target>/. Each
# runs for FUZZTIME; a crasher fails the run and is written next to the seeds, where a plain
# `go test` replays it. CI: `make fuzz FUZZTIME=20s`. A Fuzz function missing from the list
# fails the run too, so none is forgotten.
FUZZTIME ?= 20s
FUZZ_TARGETS := \
	./reference/alb:FuzzParseCABundle ./reference/alb:FuzzTrustStoreCRL ./reference/alb:FuzzParseConfig \
	./reference/alb:FuzzParseHTTPCodes ./reference/kong:FuzzAdminAPI ./reference/kong:FuzzProxyRawRequest \
	./reference/kong:FuzzRouteMatcher ./reference/kong:FuzzCRLDownload ./reference/kong/kongconf:FuzzParse \
	./reference/kong/admin:FuzzDeclarative ./reference/alb/elbv2api:FuzzQueryAPI

.PHONY: fuzz
fuzz:
	@listed="$(foreach t,$(FUZZ_TARGETS),$(lastword $(subst :, ,$(t))))"; \
	for f in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/^func //' | sort -u); do \
	  case " $$listed " in *" $$f "*) ;; *) echo "fuzz: $$f is not in FUZZ_TARGETS"; exit 1;; esac; \
	done
	@status=0; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; log=$$(mktemp); \
	  echo "== $$name ($$pkg, $(FUZZTIME))"; \
	  $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$pkg > $$log 2>&1; rc=$$?; \
	  grep -v '^fuzz: elapsed' $$log; \
	  if [ $$rc -eq 0 ]; then :; \
	  elif ! grep -q 'Failing input written to' $$log && [ "$$(grep -c '^    ' $$log)" = 1 ] && grep -q '^    context deadline exceeded$$' $$log; then \
	    echo "fuzz: $$name: the fuzzing engine timed out waiting for a worker at the end of FUZZTIME (no crasher found); not a failure"; \
	  else status=1; fi; rm -f $$log; \
	done; exit $$status

# The soak (not part of `make test` nor CI's default run): SOAKTIME of keep-alive traffic,
# handshake storms and Admin API churn against the race build of the Kong reference; writes
# $(REPORTS)/soak/soak.md and soak.json (RSS, goroutines and fds over time) and fails on any
# violation, a growing Go heap, or goroutines or fds left behind. The last published run is
# committed as docs/soak/ (the README links it): copy a run's two files there to publish it.
SOAKTIME ?= 10m
SOAKSAMPLE ?= 10s

.PHONY: soak
soak:
	$(GO) test -race -tags soak -count=1 -timeout 0 -run '^TestSoak$$' ./soak \
		-soak.duration=$(SOAKTIME) -soak.sample=$(SOAKSAMPLE) -soak.out=$(abspath $(REPORTS))/soak
