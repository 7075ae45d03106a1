# Build, test and lint quorate. `make test` is the command CI runs (see .ci/run).
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 60s

.PHONY: build demo test lint fuzz bench clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o quorate .

# The main job on the embedded default: a 3-node cluster of simulated PVE hosts built by
# quorate in the test lab, every step shown. Root; installs the lab's Debian packages first.
demo:
	bash .ci/deps
	$(GO) run ./lab/cmd/demo

# Every test of every package. The lab and end-to-end tests need root and the Debian
# packages that .ci/deps installs, which this installs first. Each end-to-end test brings up
# a lab of its own and mostly waits on the network, so three run at once (-parallel 3: more overloads two cores).
test: lint
	bash .ci/deps
	$(GO) test -race -count=1 -timeout 45m -parallel 3 ./...

# staticcheck is pinned as a tool in go.mod: `go tool` builds it, nothing to install.
lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l found unformatted files:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Runs every Fuzz target in the module for FUZZTIME each (go test fuzzes one at a time).
fuzz:
	@for file in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
			echo "== $$target ($$(dirname $$file)) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) ./$$(dirname $$file) || exit 1; \
		done; \
	done

# Prints the benchmark figures (bench/run: parsers, SSH transport, lab; about 2 minutes).
bench:
	GO=$(GO) bash bench/run

clean:
	rm -f quorate
