#!/bin/sh
# need-packages.sh WHO PACKAGE...: installs the Debian packages that are not
# installed yet, and nothing when all are.  WHO names the caller in the log.
set -eu

who=$1
shift

missing=""
for p in "$@"; do
    if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null \
         | grep -q 'install ok installed'
    then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "$who: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi
