#!/bin/sh
# Installs what `make fuzz` needs beyond scripts/deps.sh: clang and the
# libFuzzer runtime.  Idempotent: installs nothing when both are there.
set -eu

pkgs="clang libclang-rt-14-dev"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null \
         | grep -q 'install ok installed'
    then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "fuzz deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi
