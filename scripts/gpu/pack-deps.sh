#!/usr/bin/env bash
# Packs the libraries r1 builds against (all but LibTorch) for a machine that has no Debian packages and no
# network, such as the GPU machine of scripts/gpu-check.sh: Debian 12's packages, unpacked with `dpkg -x` into
# one prefix (usr/include, usr/lib/x86_64-linux-gnu, their CMake configs and pkg-config files), pruned to what a
# shared-library build needs (no static archives but GoogleTest's, no docs, no ICU data beyond libicudata.so),
# with every absolute symlink made relative, then one tar.xz (~15 MB). Needs glibc >= 2.34 where it is used.
#   scripts/gpu/pack-deps.sh OUT.tar.xz [DEB_DIR]   (DEB_DIR: .deb files already downloaded; default: apt-get download)
set -euo pipefail
out=$(realpath -m "${1:?usage: pack-deps.sh OUT.tar.xz [DEB_DIR]}")
packages=(
  libfmt-dev libfmt9                                   # fmt
  libpcre2-dev libpcre2-8-0                            # pre-tokenizer regex
  libicu-dev libicu72                                  # Unicode normalisation
  libginac-dev libginac11 libcln-dev libcln6 libgmp10  # answer verification
  libyaml-cpp-dev libyaml-cpp0.7                       # recipes
  libcpp-httplib-dev libcpp-httplib0.11                # server / client, and what its pkg-config file requires:
  libssl-dev libssl3 zlib1g-dev zlib1g libbrotli-dev libbrotli1
  libcld2-dev libcld2-0                                # language identification (r1 data filter)
  libgloo-dev                                          # Gloo headers for c10d (data parallel), if LibTorch lacks them
  nlohmann-json3-dev libcli11-dev libgtest-dev         # header-only, and GoogleTest's static libraries
  pkgconf pkgconf-bin libpkgconf3                      # pkg-config itself (CMake's FindPkgConfig needs one)
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debs=${2:-$work/debs}
if [ -z "${2:-}" ]; then
  mkdir -p "$debs"
  (cd "$debs" && apt-get download "${packages[@]}" >/dev/null)
fi
root=$work/r1-deps
mkdir -p "$root"
for p in "${packages[@]}"; do
  deb=$(ls "$debs"/"${p}"_*.deb | head -1)
  dpkg -x "$deb" "$root"
  dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$root/PACKAGES"
done
# zlib1g puts its library under /lib: one lib folder.
if [ -d "$root/lib/x86_64-linux-gnu" ]; then
  cp -a "$root"/lib/x86_64-linux-gnu/. "$root/usr/lib/x86_64-linux-gnu/"
  rm -rf "$root/lib"
fi
lib=$root/usr/lib/x86_64-linux-gnu
find "$lib" -name '*.a' ! -name 'libgtest*.a' -delete
rm -rf "$root"/usr/share/{doc,doc-base,man,info,lintian,aclocal} "$lib"/engines-3 "$lib"/ossl-modules "$lib"/icu
rm -f "$lib"/libicu{i18n,io,test,tu}.so* "$root"/usr/bin/pcre2-config
# Absolute links (/lib/x86_64-linux-gnu/libz.so.1.2.13) point into the prefix instead.
find "$root" -type l -lname '/*' | while read -r link; do
  target=$(basename "$(readlink "$link")")
  ln -sfn "$target" "$link"
done
# Dangling links (libpcre2-16.so without its package) would only confuse a reader.
find "$root" -xtype l -delete
tar -C "$work" -cJf "$out" r1-deps
echo "packed $(wc -l < "$root/PACKAGES") packages, $(du -sh "$root" | cut -f1) unpacked -> $out ($(du -h "$out" | cut -f1))"
