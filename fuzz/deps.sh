#!/bin/sh
# Installs what `make fuzz` needs beyond scripts/deps.sh: clang, the
# libFuzzer runtime and lld (fuzz_spool links with it).  Idempotent:
# installs nothing when all are there.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

"$top/scripts/need-packages.sh" "fuzz deps" clang libclang-rt-14-dev lld
