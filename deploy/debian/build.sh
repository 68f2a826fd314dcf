#!/usr/bin/env bash
# build.sh OUT.deb VERSION ARCH BINARY REGISTRY KEY GENERATE_MANUAL: the Debian package, with
# dpkg-deb (no debian/ source tree: the host is built by make, not by dpkg-buildpackage).
#   /usr/bin/eunomia                          the dist binary (static Swift runtime)
#   /usr/share/eunomia/registry/              the bundled plugins and their index.json
#   /usr/share/eunomia/keys/local-build.pub   the key they are signed with
#   /usr/share/eunomia/rules/default.yaml     the default rules
#   /lib/systemd/system/eunomia.service       deploy/systemd's unit, ExecStart=/usr/bin/eunomia
#   completions (bash, zsh, fish) and eunomia.1, generated from the argument parser
# Depends: what dpkg-shlibdeps finds the binary needs, plus libjansson4, which every bundled
# plugin links.
set -euo pipefail
out=$1 version=$2 arch=$3 binary=$4 registry=$5 key=$6 genman=$7
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/eunomia_${version}_${arch}"

install -d "$root"/usr/bin "$root"/usr/share/eunomia/keys "$root"/usr/share/eunomia/rules "$root"/lib/systemd/system \
	"$root"/usr/share/bash-completion/completions "$root"/usr/share/zsh/vendor-completions "$root"/usr/share/fish/vendor_completions.d \
	"$root"/usr/share/man/man1 "$root"/usr/share/doc/eunomia/examples "$root"/DEBIAN
install -m 0755 "$binary" "$root/usr/bin/eunomia"
install -d "$root/usr/share/eunomia/registry"
install -m 0644 "$registry"/index.json "$registry"/*.pkg "$root/usr/share/eunomia/registry/"
install -m 0644 "$key" "$root/usr/share/eunomia/keys/"
install -m 0644 "$top/rules/default.yaml" "$root/usr/share/eunomia/rules/default.yaml"
sed 's|^ExecStart=/usr/local/bin/eunomia|ExecStart=/usr/bin/eunomia|; s|`make install` puts it in /etc/systemd/system|the Debian package installs it|' \
	"$top/deploy/systemd/eunomia.service" > "$root/lib/systemd/system/eunomia.service"
chmod 0644 "$root/lib/systemd/system/eunomia.service"
grep -q '^ExecStart=/usr/bin/eunomia server' "$root/lib/systemd/system/eunomia.service" || { echo "deb: the unit's ExecStart was not rewritten" >&2; exit 1; }

# bash-completion sources the file: no #! line.
"$binary" --generate-completion-script bash | sed '1{/^#!/d}' > "$root/usr/share/bash-completion/completions/eunomia"
"$binary" --generate-completion-script zsh > "$root/usr/share/zsh/vendor-completions/_eunomia"
"$binary" --generate-completion-script fish > "$root/usr/share/fish/vendor_completions.d/eunomia.fish"
mkdir -p "$work/man"
"$genman" "$binary" --date "$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)" --output-directory "$work/man" >/dev/null
[ -s "$work/man/eunomia.1" ] || { echo "deb: generate-manual wrote no eunomia.1" >&2; exit 1; }
# generate-manual leaves blank lines between paragraphs, which groff warns about: paragraph macros instead.
sed 's/^[[:space:]]*$/.Pp/' "$work/man/eunomia.1" | gzip -9n > "$root/usr/share/man/man1/eunomia.1.gz"

install -m 0644 "$here/copyright" "$root/usr/share/doc/eunomia/copyright"
sed "s/@VERSION@/$version/; s/@DATE@/$(date -u -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")/" "$here/changelog" | gzip -9n > "$root/usr/share/doc/eunomia/changelog.gz"
install -m 0644 "$here/eunomia.toml" "$root/usr/share/doc/eunomia/examples/eunomia.toml"
install -d "$root/usr/share/lintian/overrides"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/eunomia"
for script in postinst prerm postrm; do install -m 0755 "$here/$script" "$root/DEBIAN/$script"; done

# Depends, as dpkg-shlibdeps computes it for the binary (it wants a debian/control to read).
mkdir -p "$work/src/debian"
printf 'Source: eunomia\n\nPackage: eunomia\nArchitecture: any\n' > "$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e "$root/usr/bin/eunomia" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
for lib in libbpf1 libelf1 zlib1g; do
	case "$shlibs" in *"$lib"*) ;; *) echo "deb: Depends lacks $lib: $shlibs" >&2; exit 1;; esac
done
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$shlibs, libjansson4 (>= 2.14)/" \
	"$here/control" > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$(dirname "$out")"
rm -f "$(dirname "$out")"/eunomia_*.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "deb: $out, $(( $(stat -c %s "$out") / 1048576 )) MiB, Depends: $shlibs, libjansson4 (>= 2.14)"
