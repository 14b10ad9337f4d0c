#!/bin/sh
# build-deb.sh TOP BUILD: builds
# BUILD/libnginx-mod-live-record_VERSION_ARCH.deb from the files "make install" puts in a staged tree, with dpkg-deb.  The
# package depends on the exact nginx ABI of the installed nginx (which the
# module was built against), on libnginx-mod-rtmp, and on the libraries
# dpkg-shlibdeps finds.  Prints the .deb's path.
set -eu

top=$1
build=$2
pkg=libnginx-mod-live-record
version=$(head -n 1 "$top/VERSION" | tr -cd '0-9A-Za-z.+~-')
arch=$(dpkg --print-architecture)
work=$build/deb
root=$work/root
doc=$root/usr/share/doc/$pkg
so=$root/usr/lib/nginx/modules/ngx_live_record_module.so
deb=$build/${pkg}_${version}_$arch.deb
maintainer=$(sed -n 's/^Maintainer: //p' "$top/pkg/control.in")

abi=$(dpkg-query -W -f '${Provides}' nginx 2>/dev/null \
      | tr ',' '\n' | sed -n 's/^ *\(nginx-abi-[^ ]*\).*/\1/p')
rtmp=$(dpkg-query -W -f '${Version}' libnginx-mod-rtmp 2>/dev/null || true)
if [ -z "$abi" ] || [ -z "$rtmp" ]; then
    echo "build-deb: the installed nginx (its nginx-abi-* Provides) and" \
         "libnginx-mod-rtmp are needed: run \"make deps\"" >&2
    exit 1
fi

# the changelog's dates, and so the package, do not depend on when it is
# built
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null \
                        || date +%s)
fi
export SOURCE_DATE_EPOCH

rm -rf "$work"
mkdir -p "$work"
make -C "$top" --no-print-directory -s install DESTDIR="$root"

# postinst links the snippet (as dh_nginx does), so that removing the
# package can keep an admin's choice
rm -rf "$root/etc"

# as dh_strip would: the debug info stays in build/ngx_live_record_module.so
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$so"

install -d -m 0755 "$doc"
install -m 0644 "$top/pkg/copyright" "$doc/copyright"
perl "$top/pkg/changelog.pl" "$top/CHANGES" "$pkg" "$maintainer" \
    > "$doc/changelog"
for f in "$top/README.md" "$top/docs/"*.md; do
    install -m 0644 "$f" "$doc/"
done
# Debian policy 12.3: compress what is larger than 4 kB, and the changelog
for f in "$doc"/*; do
    case $f in
    */copyright) ;;
    */changelog) gzip -9n "$f" ;;
    *) [ "$(stat -c %s "$f")" -le 4096 ] || gzip -9n "$f" ;;
    esac
done

# dpkg-shlibdeps wants a debian/control naming the package; nginx's own
# symbols, resolved at load time, are expected to be found in no library
mkdir -p "$work/src/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" \
    > "$work/src/debian/control"
shlibs=$(cd "$work/src" \
         && dpkg-shlibdeps -O --warnings=0 -e "$so" 2>"$work/shlibdeps.log" \
         | sed -n 's/^shlibs:Depends=//p')
if [ -z "$shlibs" ]; then
    echo "build-deb: dpkg-shlibdeps found no libraries:" >&2
    cat "$work/shlibdeps.log" >&2
    exit 1
fi

install -d -m 0755 "$root/DEBIAN"
for s in postinst prerm postrm; do
    install -m 0755 "$top/pkg/$s" "$root/DEBIAN/$s"
done
(cd "$root" && find usr -type f | LC_ALL=C sort | xargs md5sum) \
    > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@ABI@/$abi/" -e "s/@RTMP@/$rtmp/" -e "s/@SHLIBS@/$shlibs/" \
    "$top/pkg/control.in" > "$root/DEBIAN/control"

find "$root" -type d -exec chmod 0755 {} +
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
