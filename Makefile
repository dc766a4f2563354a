# vifq - see README.md. Two commands do everything on a fresh Debian 12 machine:
#   make demo   the noisy-neighbour scenario on a real Xen host in QEMU
#   make test   every test (unit, host netlink, Xen lab end to end)
SHELL := /bin/bash
.DEFAULT_GOAL := help
LAB := dom0-scripts/lab
LAB_KERNEL ?= 6.1
export LAB_KERNEL

# Debian packages: lab (Xen, QEMU, image tools), module builds, kernel tooling (ynl, checkpatch)
DEBS := qemu-system-x86 xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils busybox-static \
	cpio kmod iproute2 util-linux coreutils gzip xz-utils zstd tcpdump ethtool gcc g++ make libc6-dev \
	libelf-dev bc flex bison python3 python3-yaml python3-jsonschema perl dkms fonts-dejavu-core tmux

help:
	@echo "make demo        boot the Xen lab, run the noisy-neighbour arms, plots in demo-output/ (installs what it needs)"
	@echo "make test        every test: unit, host netlink, Xen lab end to end (installs what it needs)"
	@echo "make test-host   the fast inner loop: unit + host tests, no lab"
	@echo "make bench       benchmarks -> bench/results/, docs/BENCHMARKS.md"
	@echo "make test-kernel  the patch series checks: checkpatch --strict, bisect builds, W=1, ynl-gen, dkms"
	@echo "make check-pins  which kernel pins (kernels.conf) the archive no longer has, and what would be taken"
	@echo "make soak        100 destroys/detaches with packets in flight; 500 vif attach/detach cycles under vifqd (long)"
	@echo "make deps build lab-images lab-shell clean"

deps: deps-debian deps-npm

deps-debian:
	@missing=""; for p in $(DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "[deps] apt-get install$$missing"; \
		[ "$$(id -u)" = 0 ] || { echo "[deps] need root for apt-get (or install:$$missing)"; exit 1; }; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

deps-npm: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: deps-npm
	npm run build:native --silent
	npx tsc -p tsconfig.json
	node --import tsx scripts/bundle-cli.ts
	npx tsc -p test/tsconfig.json --noEmit

lab-images: deps-debian
	$(LAB)/build-images.sh

lab-shell: lab-images
	$(LAB)/run-lab.sh --shell

test: deps build lab-images
	scripts/run-tests.sh all

test-host: deps-npm build
	scripts/run-tests.sh host

test-lab: deps build lab-images
	scripts/run-tests.sh lab

test-kernel: deps
	scripts/run-tests.sh kernel

# not in CI: which pins of dom0-scripts/lab/kernels.conf are stale, and what would be taken
check-pins:
	@[ "$$(id -u)" != 0 ] || apt-get update -q >/dev/null 2>&1 || echo "[check-pins] apt-get update failed: using apt's lists as they are"
	@rc=0; for s in 6.1 6.12; do \
		echo "== $$s"; \
		out=$$($(LAB)/resolve-kernel.sh --series $$s 2>&1) || rc=1; \
		grep -E 'WARNING|ERROR|view|Run|pin in' <<<"$$out" | sed 's/^\[kernel\] /  /'; \
		n=$$(sed -n 's/^R_STALE=//p' <<<"$$out"); \
		if [ "$$n" = 0 ]; then echo "  every pin is in the archive"; \
		elif [ -n "$$n" ]; then echo "  $$n of 5 packages would not be at their pin: after verifying (make test), update kernels.conf"; fi; \
	done; exit $$rc

# long teardown runs of the patched netback (100 destroys and detaches) and 500 vif
# attach/detach cycles under vifqd (its RSS must not grow), not in CI
soak: deps build lab-images
	VIFQ_SOAK_REPEAT=100 npx tap --disable-coverage --timeout=14400 test/e2e/netback-teardown.test.ts
	VIFQD_CHURN_CYCLES=500 npx tap --disable-coverage --timeout=21600 test/e2e/vifqd.test.ts

# the noisy-neighbour scenario (a) with every arm in one boot (stock FIFO, fq_codel, CAKE, netback
# rate=, vifq, vifq + fq_codel): tables, JSON and plots under demo-output/ (about 10 min)
NN_ARMS := stock,fq_codel,cake,rate,vifq,vifq+fq_codel
demo: deps build lab-images
	kernel-patch/build-module.sh --series $(LAB_KERNEL) --out build/netback/vifq-$(LAB_KERNEL).ko --dir build/netback/demo-tree
	node --import tsx bench/noisy-neighbour.ts --arms $(NN_ARMS) --boots 1 --secs 20 --demo --label demo \
		--netback build/netback/vifq-$(LAB_KERNEL).ko

bench: deps build lab-images
	kernel-patch/build-module.sh --series $(LAB_KERNEL) --out build/netback/vifq-$(LAB_KERNEL).ko --dir build/netback/bench-nn-tree
	node --import tsx bench/noisy-neighbour.ts --boots 3 --label stock
	node --import tsx bench/noisy-neighbour.ts --boots 3 --label vifq-limited \
		--netback build/netback/vifq-$(LAB_KERNEL).ko --limit-bytes 16384
	node --import tsx bench/noisy-neighbour.ts --arms $(NN_ARMS) --boots 3 --secs 20 --label arms \
		--netback build/netback/vifq-$(LAB_KERNEL).ko
	node --import tsx bench/netback-overhead.ts --rounds 3 --secs 8
	node --import tsx bench/xenstore-lab.ts --reads 2000 --runs 3
	node --import tsx bench/xenstore-host.ts
	node --import tsx bench/genl-decode.ts
	node --import tsx bench/policy.ts
	node --import tsx bench/metrics.ts
	node --import tsx bench/vifqd-sla.ts
	node --import tsx bench/cli-start.ts
	node --import tsx bench/cli-start-lab.ts

clean:
	rm -rf dist build/lab build/lab-runs build/netback .tap

.PHONY: check-pins help deps deps-debian deps-npm build lab-images lab-shell test test-host test-lab test-kernel soak demo bench clean
