# gadgetkit: one entry point for building, testing and demonstrating.
#   make test   install what is missing, then every test: host tests directly,
#               kernel tests in a QEMU guest (see vmtest)
#   make demo   the main job: a gadget on dummy_hcd with the host peer talking to it
#   make bench  gadgetd vs the kernel's SourceSink, one guest per kernel and
#               setting (docs/benchmarks.md; BENCHFLAGS="--kernels bookworm")
#   make test-kernels  the kernel-facing packages on Debian's 5.10, 6.1, 6.12
#               and 7.x kernels, one table of package x kernel at the end
#   make test-conformance  the io_cancel conformance suite on each kernel
#               (docs/kernels.md)

GO      ?= go
BIN     := $(CURDIR)/bin
VMTEST  := $(BIN)/vmtest
# Tests that call guest.Require must run, never skip, under make test.
export GADGETKIT_REQUIRE_GUEST := 1

.PHONY: all deps build test check demo bench fuzz soak clean kernel kernels test-kernels test-conformance

all: build

deps:
	./scripts/deps.sh

$(BIN):
	mkdir -p $(BIN)

# The same static binary is the guest's /init: keep cgo out of it.
$(VMTEST): FORCE | $(BIN)
	CGO_ENABLED=0 $(GO) build -o $@ ./cmd/vmtest

kernel: $(VMTEST)
	$(VMTEST) kernel

# Every suite's kernel (bullseye 5.10, bookworm 6.1, trixie 6.12, sid 7.x).
kernels: $(VMTEST)
	$(VMTEST) kernel --all

# The packages whose tests run in the guest: what the toolkit relies on from
# the kernel, shown on each kernel gadget firmware ships on.
KERNEL_PKGS := ./ffs ./configfs ./gadget ./cmd/gadgetd ./cmd/hosttest ./cmd/testusb ./examples/echo \
	./internal/e2e ./internal/faults ./host ./internal/usbtest ./internal/conformance
KERNELS     ?= bullseye,bookworm,trixie,sid
comma       := ,

# The gadget side must cross-build without cgo for firmware; the gousb host
# peer (host, cmd/hosttest and the tests that use it) is cgo-only
# by build constraint, so the whole module builds and vets either way.
build: $(VMTEST)
	$(GO) build ./...
	CGO_ENABLED=0 GOARCH=arm64 $(GO) build ./...
	CGO_ENABLED=0 GOARCH=arm   $(GO) build ./...

# Modules of their own under examples/: built, vetted and tested the way a
# user's module is (its go.mod names cmd/vmtest as a tool).
EXT_MODULES := examples/checksum

check:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) vet ./...
	for m in $(EXT_MODULES); do (cd $$m && $(GO) vet ./... && CGO_ENABLED=0 $(GO) vet ./... && \
		CGO_ENABLED=0 GOARCH=arm64 $(GO) build ./...) || exit 1; done

# Every package's test binary goes through vmtest exec: binaries whose tests
# call guest.Require boot a fresh guest, the rest run here.
test: deps kernel build check
	$(GO) test -race -count=1 -timeout 30m -exec "$(VMTEST) exec" ./...
	for m in $(EXT_MODULES); do (cd $$m && $(GO) test -race -count=1 -timeout 10m -exec "go tool vmtest exec" ./...) || exit 1; done

# One go test per kernel (GADGETKIT_VM_KERNEL), a table of package x kernel
# at the end (also out/kernels/summary.md); fails when any cell fails.
# The conformance reports it leaves regenerate docs/kernels.md either way.
test-kernels: deps kernels build check
	rc=0; $(VMTEST) matrix --kernels $(KERNELS) --out out/kernels -race -count=1 -timeout=30m $(KERNEL_PKGS) || rc=$$?; \
	./scripts/conformance.sh --from out/kernels || rc=1; exit $$rc

# Only the io_cancel conformance suite, on each kernel; regenerates docs/kernels.md.
test-conformance: deps kernels build
	./scripts/conformance.sh $(subst $(comma), ,$(KERNELS))

demo: deps kernel
	./scripts/demo.sh

# Random faults from the matrix in one guest for SOAKTIME (seed printed for replay).
soak: deps kernel
	./scripts/soak.sh $(SOAKTIME)

# Each Fuzz target for FUZZTIME (default 60s).
fuzz:
	./scripts/fuzz.sh

# One guest per kernel x setting: calibration, kernel SourceSink vs gadgetd
# under usbtest and hosttest, cancel latency (scale in the first guest);
# writes out/bench/ and docs/benchmarks.md: bookworm and trixie, each with the
# default command line and init_on_alloc=0 (BENCHFLAGS="--kernels bookworm
# --settings default" for one guest, --full for the long hosttest grid).
bench: deps kernel
	./scripts/bench.sh $(BENCHFLAGS)

clean:
	rm -rf $(BIN)

FORCE:
