#!/usr/bin/env bash
# build.sh LAYOUT TAG BINARY REGISTRY KEY: the agent's OCI image, as an OCI image layout in
# LAYOUT tagged TAG, with no Docker engine: umoci makes an empty image, unpacks it to a
# bundle, the bundle's rootfs becomes deploy/rootfs.sh's, umoci repacks it as one layer and
# writes the image config (entrypoint, command, labels). skopeo pushes the layout as it is.
set -euo pipefail
layout=$1 tag=$2 binary=$3 registry=$4 key=$5
command -v umoci >/dev/null || { echo "image: umoci is missing (apt-get install umoci)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$layout"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$work/bundle" >/dev/null
"$(dirname "$0")/../rootfs.sh" "$work/bundle/rootfs" "$binary" "$registry" "$key"
umoci repack --image "$layout:$tag" "$work/bundle"
version=$("$binary" --version | cut -d' ' -f1)
umoci config --image "$layout:$tag" \
	--os linux --architecture amd64 \
	--config.entrypoint /usr/bin/eunomia \
	--config.cmd server --config.cmd --config --config.cmd /etc/eunomia/eunomia.toml \
	--config.env PATH=/usr/bin \
	--config.workingdir / \
	--config.stopsignal SIGTERM \
	--config.label org.opencontainers.image.title=eunomia \
	--config.label org.opencontainers.image.description="eunomia agent: eBPF tracker plugins loaded at runtime" \
	--config.label org.opencontainers.image.version="$version" \
	--history.comment "eunomia $version: dist binary, libraries, bundled registry"
umoci gc --layout "$layout"
size=$(du -sb "$layout/blobs" | cut -f1)
echo "image: $layout:$tag, $((size / 1048576)) MiB of blobs ($(find "$work/bundle/rootfs" -type f | wc -l) files in the rootfs)"
