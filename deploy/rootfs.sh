#!/usr/bin/env bash
# rootfs.sh DEST BINARY REGISTRY KEY: a distroless-style root filesystem for the agent, holding
# no Swift toolchain and no shell: the dist binary, the shared libraries it and the bundled
# plugins load (found with ldd, copied from this Debian system at their own paths), the CA
# certificates (HTTPS registries), the bundled registry and the key its packages are signed
# with, the default rules, and the directories the server writes. make image packs it;
# DeployTests runs it under chroot and runc.
set -euo pipefail
dest=$1 binary=$2 registry=$3 key=$4
top=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$binary" ] || { echo "rootfs.sh: $binary is not an executable (make dist builds it)" >&2; exit 1; }
[ -f "$registry/index.json" ] || { echo "rootfs.sh: $registry has no index.json (make registry builds it)" >&2; exit 1; }
[ -f "$key" ] || { echo "rootfs.sh: no key at $key" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"/{usr/bin,etc/eunomia,etc/ssl/certs,usr/share/eunomia/keys,usr/share/eunomia/rules,var/lib/eunomia,run/eunomia,tmp,proc,sys,dev,host}
chmod 1777 "$dest/tmp"
install -m 0755 "$binary" "$dest/usr/bin/eunomia"
cp -r "$registry" "$dest/usr/share/eunomia/registry"
install -m 0644 "$key" "$dest/usr/share/eunomia/keys/"
install -m 0644 "$top/rules/default.yaml" "$dest/usr/share/eunomia/rules/default.yaml"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' > "$dest/etc/passwd"
printf 'root:x:0:\n' > "$dest/etc/group"

# The plugins' libraries: every .so in every bundled package, unpacked only to ask ldd.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 - "$scratch" "$registry"/*.pkg <<'PY'
import sys, zipfile, os
out = sys.argv[1]
for i, pkg in enumerate(sys.argv[2:]):
    with zipfile.ZipFile(pkg) as z:
        for name in z.namelist():
            if name.endswith(".so"):
                with open(os.path.join(out, f"{i}-{os.path.basename(name)}"), "wb") as f:
                    f.write(z.read(name))
PY
libs=$( { ldd "$binary"; for so in "$scratch"/*.so; do ldd "$so"; done; } \
	| awk '/=> \//{print $3} /^[ \t]*\//{print $1}' | sort -u)
# Debian's /lib and /lib64 are links into /usr: the same layout here, so every path ldd
# printed (and the interpreter path in the binary) resolves.
mkdir -p "$dest/usr/lib" "$dest/usr/lib64"
ln -s usr/lib "$dest/lib"
ln -s usr/lib64 "$dest/lib64"
for lib in $libs; do
	real=$(readlink -f "$lib")
	mkdir -p "$dest$(dirname "$real")"
	cp -n "$real" "$dest$real"
	# The name the loader asks for (libbpf.so.1, /lib64/ld-linux-x86-64.so.2), as a link.
	dir=$(readlink -f "$(dirname "$lib")")
	name="$dir/$(basename "$lib")"
	if [ "$name" != "$real" ]; then mkdir -p "$dest$dir" && ln -sf "$real" "$dest$name"; fi
done
