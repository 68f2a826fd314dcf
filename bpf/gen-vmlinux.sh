#!/bin/sh
# Generate vmlinux.h from the running kernel's BTF. CO-RE relocations make the resulting
# BPF objects portable to other BTF-enabled kernels.
set -eu
out=${1:?usage: gen-vmlinux.sh OUTPUT}
btf=/sys/kernel/btf/vmlinux
[ -r "$btf" ] || { echo "gen-vmlinux: $btf is missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF)" >&2; exit 1; }
command -v bpftool >/dev/null || { echo "gen-vmlinux: bpftool not found (make install-deps)" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
