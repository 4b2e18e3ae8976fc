# kernscope: one entry point for set-up, build, run, test and bench.
# `make run` and `make test` install what is missing on a fresh Debian/Ubuntu machine.

SHELL := /bin/bash
ARCH := $(shell uname -m | sed -e 's/x86_64/x86_64/' -e 's/aarch64/arm64/')
BPF_ARCH := $(if $(filter arm64,$(ARCH)),arm64,x86)
CLANG ?= clang
BPF_WARNINGS := -Wall -Wextra -Werror -Wno-unused-parameter
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) $(BPF_WARNINGS) -I bpf -I bpf/vmlinux/$(ARCH)
BPF_SOURCES := $(wildcard bpf/*.bpf.c)
# Latency probes are built once per native histogram schema (bpf/histogram.h): NAME.bpf.o is schema 0,
# NAME.schemaN.bpf.o schema N, chosen by --histogram-schema.
HISTOGRAM_OBJECTS := blockio runqueue syscalls tcp histogramslots
SCHEMAS := 1 2 3
BPF_OBJECTS := $(patsubst bpf/%.bpf.c,dist/bpf/%.bpf.o,$(BPF_SOURCES)) \
	$(foreach schema,$(SCHEMAS),$(HISTOGRAM_OBJECTS:%=dist/bpf/%.schema$(schema).bpf.o))
APT_PACKAGES := clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config bpftool \
	clang-format prometheus libbpf-tools bpftrace iproute2 make g++ python3 openssl tmux mmdebstrap pci.ids
LISTEN ?= :9478

ADDON := build/Release/kernscope.node

# Plain `make` builds; `make deps` alone installs.
.DEFAULT_GOAL := build

.PHONY: deps build bpf examples bpf-arch-check run test test-kernels lint format package bench soak clean

deps: .deps-stamp
.deps-stamp: package.json package-lock.json
	scripts/install-deps $(APT_PACKAGES)
	npm ci
	touch $@

bpf: $(BPF_OBJECTS) dist/bpf/SHA256SUMS

# The loader refuses an object that does not match its sum (src/load/objectIntegrity.ts).
dist/bpf/SHA256SUMS: $(BPF_OBJECTS)
	cd dist/bpf && sha256sum $(notdir $(BPF_OBJECTS)) > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS

dist/bpf/%.bpf.o: bpf/%.bpf.c bpf/*.h bpf/vmlinux/$(ARCH)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	llvm-strip -g $@.tmp
	mv $@.tmp $@

define schema_object
dist/bpf/%.schema$(1).bpf.o: bpf/%.bpf.c bpf/*.h bpf/vmlinux/$(ARCH)/vmlinux.h
	@mkdir -p $$(@D)
	$$(CLANG) $$(BPF_CFLAGS) -DKS_HISTOGRAM_SCHEMA=$(1) -c $$< -o $$@.tmp
	llvm-strip -g $$@.tmp
	mv $$@.tmp $$@
endef
$(foreach schema,$(SCHEMAS),$(eval $(call schema_object,$(schema))))

# npm ci builds the addon on a fresh clone; this rebuilds it after native/ edits.
$(ADDON): .deps-stamp binding.gyp native/*.cc native/*.h
	npx node-gyp rebuild
	@touch $@

# The BPF sources must compile for every architecture we ship, not just this one.
bpf-arch-check:
	for src in $(BPF_SOURCES); do \
		$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 $(BPF_WARNINGS) -I bpf -I bpf/vmlinux/x86_64 -c $$src -o /dev/null && \
		$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_arm64 $(BPF_WARNINGS) -I bpf -I bpf/vmlinux/arm64 -c $$src -o /dev/null || exit 1; \
	done

# User-probe examples (examples/README.md): ebpf_exporter-format pairs the tests load with --probe-dir.
examples: deps
	$(MAKE) -C examples

build: deps bpf $(ADDON) examples
	npx tsc -p tsconfig.json

run: build
	node dist/src/cli/main.js run --listen $(LISTEN)

lint: deps bpf-arch-check
	npx tsc -p tsconfig.json --noEmit
	node scripts/check-imports.mjs
	npx eslint src test bench
	npx prettier --check src test bench
	clang-format --dry-run --Werror native/*.cc native/*.h
	clang-format --dry-run --Werror bpf/*.bpf.c bpf/*.h bench/*.c examples/*.bpf.c examples/include/*.h

format: deps
	npx prettier --write src test bench
	clang-format -i native/*.cc native/*.h bpf/*.bpf.c bpf/*.h bench/*.c examples/*.bpf.c examples/include/*.h

# dist/kernscope-VERSION-linux-ARCH.tgz: installs with `npm install -g FILE`, no compiler needed (README, Install on a host).
package: build
	scripts/package

test: build lint package
	npx tap
	$(MAKE) test-kernels

# The kernel-facing tests inside stock kernels 5.10, 6.1 and 6.12 under QEMU (test/kernels/run; about 20
# minutes); KERNELS="6.1" for one. The kernel packages are cached in /var/cache/kernscope/kernels.
KERNELS ?= 5.10 6.1 6.12
KERNEL_PACKAGES := qemu-system-x86 busybox-static kmod
test-kernels: build
	scripts/install-deps $(KERNEL_PACKAGES)
	test/kernels/run $(KERNELS)

# The performance record (bench/README.md), about 70 minutes; BENCH_FLAGS=--json for machine-readable output.
BENCH_FLAGS ?=
BENCHES := drain overhead services stream storms scrape memory
BENCH_PACKAGES := nginx-light wrk redis-server redis-tools
bench: build
	scripts/install-deps $(BENCH_PACKAGES)
	$(MAKE) -C bench
	set -e; for b in $(BENCHES); do node dist/bench/$$b.js $(BENCH_FLAGS); done
	# The loss target: a full minute at 1M records/s.
	node dist/bench/stream.js --seconds 60 --rates 1000000 --eager-rates '' --trials 1 $(BENCH_FLAGS)

# 30 minutes at 500k records/s with scrapes and OTLP exports (bench/README.md, Soak); SOAK_FLAGS=--minutes 3 for a short one.
SOAK_FLAGS ?=
soak: build
	$(MAKE) -C bench
	node dist/bench/soak.js $(SOAK_FLAGS)

clean:
	rm -rf build dist .deps-stamp
	$(MAKE) -C examples clean
