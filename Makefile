# eunomia build: the Swift host, vmlinux.h, every plugin under Plugins/, and their packages.
SHELL := /bin/bash
CLANG ?= clang
CC ?= cc
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BUILD := build
PLUGINS := $(notdir $(patsubst %/,%,$(dir $(wildcard Plugins/*/schema.json))))
VMLINUX := $(BUILD)/bpf/vmlinux.h
HELPER := Sources/PluginABI/helper/eunomia_bpf.c Sources/PluginABI/helper/eunomia_config.c Sources/PluginABI/helper/eunomia_maps.c Sources/PluginABI/helper/eunomia_attach.c Sources/PluginABI/abi.c
HELPER_HDRS := $(wildcard Sources/PluginABI/helper/*.h Sources/PluginABI/include/eunomia/*.h)
BPF_CFLAGS := -O2 -g -Wall -target bpf -D__TARGET_ARCH_$(ARCH) -Ibpf -I$(BUILD)/bpf
PLUGIN_CFLAGS := -O2 -g -Wall -Wextra -fPIC -fvisibility=hidden -ISources/PluginABI/include -ISources/PluginABI/helper
PLUGIN_LDFLAGS := -shared -Wl,-z,defs -Wl,-z,now -lbpf -ljansson -lelf
SWIFT_FLAGS ?=

# dist, deb, image, image-push: deployment (docs/deploy.md).
.PHONY: dist deb image image-push k8s-checksums
.PHONY: all build host kit install-kit plugins packages registry swap-check install-deps install-test-deps kernel-setup install-plugins test run bench clean fuzz-build fuzz fuzz-seeds

all: build

build: host packages registry

host: bin/eunomia

# The release host links the Swift runtime and Foundation statically (--static-swift-stdlib):
# it runs on a machine with no Swift toolchain, needing only the Debian libraries DIST_LIBS
# names. make dist strips it; make deb and make image package that.
bin/eunomia: Package.swift $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h')
	swift build -c release --static-swift-stdlib $(SWIFT_FLAGS)
	mkdir -p bin
	cp "$$(swift build -c release --show-bin-path)/eunomia" bin/eunomia

$(VMLINUX): bpf/gen-vmlinux.sh
	bpf/gen-vmlinux.sh $@

# The key the bundled packages are signed with: generated here on the first build, never
# committed (build/ is ignored); install-plugins trusts its public half in the store.
BUILD_KEY := $(BUILD)/keys/local-build
# Order-only on bin/eunomia: a rebuilt host must not make a new key (and orphan the old trust).
$(BUILD_KEY).key: | bin/eunomia
	@mkdir -p $(@D)
	bin/eunomia key generate local-build --output $(@D)

# The plugin kit (docs/plugin-author-guide.md): the ABI header, the helper as a static library,
# the BPF headers, a pkg-config file and a make fragment. `make install` puts it under PREFIX;
# the bundled plugins build against a copy staged in build/kit, exactly as a third party's do.
KIT_SRC := Sources/PluginABI/kit
KIT_STAGE := $(BUILD)/kit
KIT_OBJ := $(BUILD)/kit-obj
KIT_LIB := $(KIT_OBJ)/libeunomia-plugin.a
KIT_VERSION := $(shell sed -n 's/^\#define EUNOMIA_ABI_MAJOR \([0-9]*\)/\1/p' Sources/PluginABI/include/eunomia/plugin.h).$(shell sed -n 's/^\#define EUNOMIA_ABI_MINOR \([0-9]*\)/\1/p' Sources/PluginABI/include/eunomia/plugin.h)

$(KIT_OBJ)/%.o: Sources/PluginABI/helper/%.c $(HELPER_HDRS)
	@mkdir -p $(@D)
	$(CC) $(PLUGIN_CFLAGS) -c $< -o $@

$(KIT_OBJ)/abi.o: Sources/PluginABI/abi.c $(HELPER_HDRS)
	@mkdir -p $(@D)
	$(CC) $(PLUGIN_CFLAGS) -c $< -o $@

$(KIT_LIB): $(patsubst %.c,$(KIT_OBJ)/%.o,$(notdir $(HELPER)))
	rm -f $@
	ar rcs $@ $^

# install-kit PREFIX=... [DESTDIR=...]
install-kit: $(KIT_LIB)
	install -d $(DESTDIR)$(PREFIX)/include/eunomia/bpf $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/eunomia
	install -m 0644 Sources/PluginABI/include/eunomia/plugin.h Sources/PluginABI/helper/eunomia_bpf.h $(DESTDIR)$(PREFIX)/include/eunomia/
	install -m 0644 bpf/eunomia.bpf.h bpf/eunomia_record.h $(DESTDIR)$(PREFIX)/include/eunomia/bpf/
	install -m 0644 $(KIT_LIB) $(DESTDIR)$(PREFIX)/lib/libeunomia-plugin.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(KIT_VERSION)|' $(KIT_SRC)/eunomia-plugin.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/eunomia-plugin.pc
	install -m 0644 $(KIT_SRC)/eunomia-plugin.mk $(DESTDIR)$(PREFIX)/share/eunomia/eunomia-plugin.mk

$(KIT_STAGE)/.stamp: $(KIT_LIB) $(wildcard $(KIT_SRC)/*) bpf/eunomia.bpf.h bpf/eunomia_record.h $(HELPER_HDRS)
	$(MAKE) --no-print-directory install-kit PREFIX=$(CURDIR)/$(KIT_STAGE) DESTDIR=
	@touch $@

kit: $(KIT_STAGE)/.stamp

# Each bundled plugin is built by `eunomia plugin build` against the staged kit, then signed.
define PLUGIN_RULES
$(BUILD)/packages/$(1).stamp: bin/eunomia $(KIT_STAGE)/.stamp $(VMLINUX) $(wildcard Plugins/$(1)/*) $(BUILD_KEY).key
	@mkdir -p $(BUILD)/packages
	out=$$$$(PKG_CONFIG_PATH=$(CURDIR)/$(KIT_STAGE)/lib/pkgconfig bin/eunomia plugin build Plugins/$(1) -o $(BUILD)/plugins/$(1) --vmlinux $(VMLINUX) | tail -n 1) && \
		pkg="$$$${out#packed }" && cp "$$$$pkg" $(BUILD)/packages/ && echo "packed $(BUILD)/packages/$$$${pkg##*/}" && \
		bin/eunomia plugin sign "$(BUILD)/packages/$$$${pkg##*/}" --key $(BUILD_KEY).key
	@touch $$@
endef
$(foreach p,$(PLUGINS),$(eval $(call PLUGIN_RULES,$(p))))

plugins: packages

packages: $(foreach p,$(PLUGINS),$(BUILD)/packages/$(p).stamp)

# build/registry/: every bundled package and its index.json, a registry as docs/registry.md
# describes it (install-plugins installs from it by name; serve it over HTTP as it is).
REGISTRY := $(BUILD)/registry
$(REGISTRY)/index.json: $(foreach p,$(PLUGINS),$(BUILD)/packages/$(p).stamp)
	@mkdir -p $(@D)
	rm -f $(@D)/*.pkg
	cp $(foreach p,$(PLUGINS),$(BUILD)/packages/$(p)-*.pkg) $(@D)/
	bin/eunomia registry index $(@D)

registry: $(REGISTRY)/index.json

# A hot swap of opensnoop against the kernel, as the host runs it (ABI 1.2): every open is
# reported exactly once across the two versions. Needs root; run build/tests/swap_check.
$(BUILD)/tests/swap_check: Tests/Fixtures/swap_check.c $(HELPER_HDRS)
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -ISources/PluginABI/include $< -o $@ -ldl -lbpf

swap-check: $(BUILD)/tests/swap_check $(BUILD)/packages/opensnoop.stamp
	$(BUILD)/tests/swap_check

# Debian 12 packages the build needs, and the filesystems tracing needs.
install-deps:
	@if [ "$$(id -u)" != 0 ]; then echo "install-deps: run as root (apt-get, mount)" >&2; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libbpf-dev libelf-dev zlib1g-dev libjansson-dev bpftool pkg-config make gcc python3 \
		binutils dpkg-dev umoci >/dev/null
	$(MAKE) --no-print-directory kernel-setup

# What only the tests need, beside the build's packages: a real OCI registry and skopeo
# (OCIRegistryTests), openssl (its TLS certificates), a real Prometheus (PrometheusTests),
# runc and busybox-static (a real container, ContainerKernelTests), schemathesis (the API
# against its OpenAPI document). The tests start their own registry and Prometheus on free
# ports; the services Debian would start at install (ports 5000 and 9090) are kept from
# starting by a policy-rc.d for the length of the install.
TEST_PACKAGES := docker-registry skopeo openssl prometheus runc busybox-static lintian
install-test-deps: install-deps
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; rc=$$?; \
		rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi
	@# schemathesis and kubernetes-validate (DeployTests: the manifests against the API schemas): pinned.
	python3 -m pip install -q --disable-pip-version-check $(SCHEMATHESIS) $(KUBERNETES_VALIDATE) 2>/dev/null \
		|| python3 -m pip install -q --disable-pip-version-check --break-system-packages $(SCHEMATHESIS) $(KUBERNETES_VALIDATE)

kernel-setup:
	@mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
	@mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	@mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug 2>/dev/null || true

# The host, the plugin kit (install-kit) and the systemd unit: $(DESTDIR)$(PREFIX)/bin/eunomia, $(DESTDIR)$(SYSTEMD_DIR)/eunomia.service
# (ExecStart follows PREFIX). Then: systemctl daemon-reload && systemctl enable --now eunomia.
PREFIX ?= /usr/local
SYSTEMD_DIR ?= /etc/systemd/system
SCHEMATHESIS := schemathesis==4.32.5
KUBERNETES_VALIDATE := kubernetes-validate==1.37.0

install: bin/eunomia install-kit
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_DIR) $(DESTDIR)$(PREFIX)/share/eunomia/rules
	install -m 0755 bin/eunomia $(DESTDIR)$(PREFIX)/bin/eunomia
	install -m 0644 rules/default.yaml $(DESTDIR)$(PREFIX)/share/eunomia/rules/default.yaml
	sed 's|^ExecStart=/usr/local/bin/eunomia|ExecStart=$(PREFIX)/bin/eunomia|' deploy/systemd/eunomia.service > $(DESTDIR)$(SYSTEMD_DIR)/eunomia.service.tmp
	chmod 0644 $(DESTDIR)$(SYSTEMD_DIR)/eunomia.service.tmp
	mv $(DESTDIR)$(SYSTEMD_DIR)/eunomia.service.tmp $(DESTDIR)$(SYSTEMD_DIR)/eunomia.service

# Install every bundled plugin by name from build/registry into the default store
# (/var/lib/eunomia, or $$EUNOMIA_HOME), trusting the local build key there first (the
# packages are signed with it).
install-plugins: build
	bin/eunomia key trust $(BUILD_KEY).pub
	bin/eunomia plugin install --registry $(CURDIR)/$(REGISTRY) $(PLUGINS)

run: install-plugins
	bin/eunomia run opensnoop

test: build dist deb image fuzz-build fuzz-seeds $(BUILD)/tests/swap_check
	@# XCTest only: its closing "Executed N tests" line is the count CI reads.
	EUNOMIA_FUZZ_BIN_DIR=$(CURDIR)/$(FUZZ_BIN) swift test --disable-swift-testing $(SWIFT_FLAGS) 2>&1 | tee $(BUILD)/test.log; exit $${PIPESTATUS[0]}

# libFuzzer targets (docs/fuzzing.md): eunomia-fuzz-package, -schema, -params, built with the
# fuzzer (coverage) and address sanitizers into their own scratch path, so plain builds stay as they are.
FUZZ_TARGETS := package schema params
FUZZ_SCRATCH := .build-fuzz
FUZZ_CONFIG ?= debug
FUZZ_SANITIZERS ?= --sanitize fuzzer --sanitize address
FUZZ_BIN := $(FUZZ_SCRATCH)/$(FUZZ_CONFIG)
FUZZ_TIME ?= 60
FUZZ_DIR := $(BUILD)/fuzz

fuzz-build:
	@for t in $(FUZZ_TARGETS); do \
		echo "swift build --scratch-path $(FUZZ_SCRATCH) -c $(FUZZ_CONFIG) $(FUZZ_SANITIZERS) --product eunomia-fuzz-$$t"; \
		swift build --scratch-path $(FUZZ_SCRATCH) -c $(FUZZ_CONFIG) $(FUZZ_SANITIZERS) --product eunomia-fuzz-$$t $(SWIFT_FLAGS) || exit 1; \
	done

# Seed corpora, generated: the built packages (as they are, and structured: pkg-to-seed.py), the
# bundled schemas as the packages hold them (completed by pack), the hand-written parameter lines. make test's FuzzTests start from them too.
fuzz-seeds: packages
	@rm -rf $(FUZZ_DIR)/seeds
	@mkdir -p $(FUZZ_DIR)/seeds/package $(FUZZ_DIR)/seeds/schema $(FUZZ_DIR)/seeds/params
	cp $(BUILD)/packages/*.pkg $(FUZZ_DIR)/seeds/package/
	python3 Tests/Fuzz/pkg-to-seed.py $(FUZZ_DIR)/seeds/package $(BUILD)/packages/*.pkg
	for p in $(PLUGINS); do python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("schema.json"))' $(BUILD)/packages/$$p-*.pkg > $(FUZZ_DIR)/seeds/schema/$$p.json; done
	cp Tests/Fixtures/fake_schema.json $(FUZZ_DIR)/seeds/schema/
	cp Tests/Fuzz/seeds/params/* $(FUZZ_DIR)/seeds/params/

# Each fuzzer for FUZZ_TIME seconds on a fresh corpus under build/fuzz/<target>/; fails on a crash
# (the input is left in build/fuzz/<target>/artifacts/). Every target runs even after a crash.
fuzz: fuzz-build fuzz-seeds
	@failed=0; for t in $(FUZZ_TARGETS); do \
		Tests/Fuzz/run-fuzzer.sh $$t $(FUZZ_BIN)/eunomia-fuzz-$$t $(FUZZ_TIME) $(FUZZ_DIR)/$$t $(FUZZ_DIR)/seeds/$$t || failed=1; \
	done; exit $$failed

BENCH_TOOLS := $(BUILD)/bench/opensnoop-0.2.0.pkg $(BUILD)/bench/synthetic.so $(BUILD)/bench/loadgen $(BUILD)/bench/minimal_consumer $(BUILD)/bench/symbolize \
	$(BUILD)/bench/malloc_load

$(BUILD)/bench/malloc_load: bench/malloc_load.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -fno-omit-frame-pointer $< -o $@

$(BUILD)/bench/symbolize: bench/symbolize.c Sources/Host/CSupport/symbolizer.c Sources/Host/CSupport/include/symbolizer.h
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -ISources/Host/CSupport/include bench/symbolize.c Sources/Host/CSupport/symbolizer.c -o $@ -lelf

$(BUILD)/bench/synthetic.so: bench/synthetic_plugin.c $(HELPER_HDRS)
	@mkdir -p $(@D)
	$(CC) $(PLUGIN_CFLAGS) $< -o $@ -shared

$(BUILD)/bench/loadgen: bench/loadgen.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall $< -o $@

$(BUILD)/bench/minimal_consumer: bench/minimal_consumer.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall $< -o $@ -lbpf

# A second version of opensnoop from the same sources, for the swap benchmark: only the
# schema's version differs, and plugin build passes it to the library.
$(BUILD)/bench/opensnoop-0.2.0.pkg: $(BUILD)/packages/opensnoop.stamp
	rm -rf $(BUILD)/bench/opensnoop-v2 && mkdir -p $(BUILD)/bench/opensnoop-v2
	cp Plugins/opensnoop/*.c Plugins/opensnoop/*.h $(BUILD)/bench/opensnoop-v2/ 2>/dev/null || cp Plugins/opensnoop/*.c $(BUILD)/bench/opensnoop-v2/
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s["version"]="0.2.0"; json.dump(s, open(sys.argv[2], "w"), indent=1)' Plugins/opensnoop/schema.json $(BUILD)/bench/opensnoop-v2/schema.json
	PKG_CONFIG_PATH=$(CURDIR)/$(KIT_STAGE)/lib/pkgconfig bin/eunomia plugin build $(BUILD)/bench/opensnoop-v2 -o $(BUILD)/bench/opensnoop-v2/build --vmlinux $(VMLINUX)
	cp $(BUILD)/bench/opensnoop-v2/build/opensnoop-0.2.0.pkg $@
	bin/eunomia plugin sign $@ --key $(BUILD_KEY).key

# Benchmarks: results in bench/results/latest.{json,md}. Not part of the tests.
bench: build $(BENCH_TOOLS)
	python3 bench/run.py

# Deployment (docs/deploy.md). make dist: the stripped host, build/dist/eunomia, and a check
# that it needs no shared library beyond DIST_LIBS (no Swift runtime: a node has none).
DIST := $(BUILD)/dist
DIST_LIBS := libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 libbpf.so.1 libelf.so.1 libz.so.1 ld-linux-x86-64.so.2
VERSION := $(shell sed -n 's/.*hostVersion = "\(.*\)"/\1/p' Sources/Host/Daemon/APIServer.swift)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)

$(DIST)/eunomia: bin/eunomia
	@mkdir -p $(@D)
	objcopy --strip-all bin/eunomia $@.tmp
	@for lib in $$(readelf -d $@.tmp | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do \
		case " $(DIST_LIBS) " in *" $$lib "*) ;; *) echo "dist: eunomia needs $$lib, which DIST_LIBS does not name" >&2; rm -f $@.tmp; exit 1;; esac; \
	done
	mv $@.tmp $@
	@echo "dist: $@, $$(( $$(stat -c %s $@) / 1048576 )) MiB stripped, needs: $$(readelf -d $@ | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"

dist: $(DIST)/eunomia

# make image: an OCI image layout, build/image (tag IMAGE_TAG), built with umoci from a
# distroless-style rootfs (deploy/rootfs.sh). make image-push IMAGE_REF=docker://HOST/REPO:TAG
# copies it to a registry with skopeo (IMAGE_PUSH_FLAGS, e.g. --dest-tls-verify=false).
IMAGE := $(BUILD)/image
IMAGE_TAG ?= $(VERSION)
IMAGE_REF ?=
IMAGE_PUSH_FLAGS ?=

$(IMAGE)/.stamp: $(DIST)/eunomia $(REGISTRY)/index.json deploy/rootfs.sh deploy/image/build.sh rules/default.yaml
	deploy/image/build.sh $(IMAGE) $(IMAGE_TAG) $(DIST)/eunomia $(REGISTRY) $(BUILD_KEY).pub
	@touch $@

image: $(IMAGE)/.stamp

image-push: image
	@if [ -z "$(IMAGE_REF)" ]; then echo "image-push: set IMAGE_REF, e.g. IMAGE_REF=docker://registry.example.com/eunomia/agent:$(IMAGE_TAG)" >&2; exit 1; fi
	skopeo copy $(IMAGE_PUSH_FLAGS) oci:$(IMAGE):$(IMAGE_TAG) $(IMAGE_REF)

# make deb: build/deb/eunomia_VERSION_ARCH.deb (deploy/debian/build.sh): the dist binary, the
# bundled registry and its key, the rules, the systemd unit, completions and a man page
# generated from the argument parser (ArgumentParser's generate-manual).
DEB := $(BUILD)/deb/eunomia_$(VERSION)_$(DEB_ARCH).deb
GENERATE_MANUAL := $(BUILD)/tools/generate-manual

$(GENERATE_MANUAL): Package.swift
	swift build -c release --static-swift-stdlib --product generate-manual $(SWIFT_FLAGS)
	@mkdir -p $(@D)
	cp "$$(swift build -c release --show-bin-path)/generate-manual" $@

$(DEB): $(DIST)/eunomia $(REGISTRY)/index.json $(GENERATE_MANUAL) $(wildcard deploy/debian/*) deploy/systemd/eunomia.service rules/default.yaml
	deploy/debian/build.sh $@ $(VERSION) $(DEB_ARCH) $(DIST)/eunomia $(REGISTRY) $(BUILD_KEY).pub $(GENERATE_MANUAL)

deb: $(DEB)

# The DaemonSet's checksum/config and checksum/rules annotations, recomputed from the
# ConfigMap (DeployTests fails while they are stale).
k8s-checksums:
	python3 deploy/k8s-checksums.py

clean:
	rm -rf $(BUILD) bin .build $(FUZZ_SCRATCH)
