#!/bin/sh
# Installs what `make fuzz` needs beyond scripts/deps.sh: clang and the
# libFuzzer runtime.  Idempotent: installs nothing when both are there.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

"$top/scripts/need-packages.sh" "fuzz deps" clang libclang-rt-14-dev
