#!/bin/sh
# Fetches Debian's nginx-rtmp-module source tarball (for its headers, which
# no binary package ships) without touching /etc/apt, checks its sha256 and
# unpacks it under BUILD/rtmp.
set -eu

build=$1
tarball=libnginx-mod-rtmp_1.2.2+dfsg.orig.tar.xz
sum=6531e5ed75b01dfe786e08e0eb8ffd664b6f271f3e57223fe59dba965fcefd84
src=$build/rtmp
apt=$build/apt

if [ -f "$src/ngx_rtmp.h" ]; then
    exit 0
fi

mkdir -p "$apt/sources" "$apt/lists/partial" "$build/download"

if [ ! -f "$build/download/$tarball" ]; then
    sources=/etc/apt/sources.list.d/debian.sources
    if [ ! -f "$sources" ]; then
        echo "fetch-rtmp: $sources not found; set NGX_RTMP_SRC to an" \
             "unpacked nginx-rtmp-module 1.2.2 source tree" >&2
        exit 1
    fi
    sed 's/^Types:.*/Types: deb-src/' "$sources" > "$apt/sources/src.sources"

    opts="-o Dir::Etc::SourceList=/dev/null
          -o Dir::Etc::SourceParts=$apt/sources
          -o Dir::State::Lists=$apt/lists
          -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache="

    apt-get $opts -q update
    (cd "$build/download" && apt-get $opts source --tar-only \
        libnginx-mod-rtmp)
fi

echo "$sum  $build/download/$tarball" | sha256sum -c --quiet

tmp=$build/rtmp.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
tar -xJf "$build/download/$tarball" -C "$tmp" --strip-components=1
rm -rf "$src"
mv "$tmp" "$src"
echo "fetch-rtmp: nginx-rtmp-module source in $src"
