#!/bin/bash
# Mutation testing of the suite: each one-line (or few-line) mutation in
# scripts/mutations.txt is applied to a scratch copy of this tree
# (build/mutate/tree, a detached git worktree of HEAD with its own build),
# the module is rebuilt, and the test files the mutation names run in that
# tree against its .so (LIVE_RECORD_MODULE=...): tests that build C sources
# themselves (t/mp4_writer.t, t/fuzz.t) build the mutated ones.  A mutation
# the tests pass with survived: the suite missed a bug.  Not part of make
# test.
#
#   scripts/mutate.sh             every mutation
#   scripts/mutate.sh NAME...     those named
#
# mutations.txt, one per line, fields split by " | ":
#   NAME | FILE | FROM | TO | TESTS
# FROM must occur exactly once in FILE; \n in FROM and TO is a newline.
# Exit status 1 when one survived or could not be applied.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
list=$top/scripts/mutations.txt
tree=$top/build/mutate/tree

if [ ! -d "$tree" ]; then
    mkdir -p "$top/build/mutate"
    git -C "$top" worktree add --detach "$tree" HEAD >/dev/null
    mkdir -p "$tree/build"
    cp -a "$top/build/rtmp" "$top/build/console" "$top/build/tools" \
          "$top/build/download" "$tree/build/" 2>/dev/null || true
    # the media the tests made once, so as not to encode them again
    if [ -d "$top/t/tmp/media" ]; then
        mkdir -p "$tree/t/tmp"
        cp -a "$top/t/tmp/media" "$tree/t/tmp/"
    fi
else
    git -C "$tree" checkout -q --detach "$(git -C "$top" rev-parse HEAD)"
fi

log=$top/build/mutate/log
mkdir -p "$log"
survived=0
failed=0
n=0

while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac

    name=$(perl -e 'print +(split / \| /, $ARGV[0])[0]' "$line")

    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx -- "$name"; then
        continue
    fi

    n=$((n + 1))
    git -C "$tree" checkout -q -- .

    if ! perl -e '
        my ($name, $file, $from, $to) = split / \| /, $ARGV[0];
        s/\\n/\n/g for $from, $to;
        my $path = "$ARGV[1]/$file";
        open my $fh, "<", $path or die "$path: $!\n";
        local $/;
        my $src = <$fh>;
        my $count = () = $src =~ /\Q$from\E/g;
        die "$name: FROM occurs $count times in $file\n" if $count != 1;
        $src =~ s/\Q$from\E/$to/;
        open $fh, ">", $path or die "$path: $!\n";
        print $fh $src;
    ' "$line" "$tree"; then
        printf '%-22s NOT APPLIED\n' "$name"
        failed=$((failed + 1))
        continue
    fi

    # nothing inside reads the list: ffmpeg in a test would eat lines of it
    if ! make -C "$tree" build </dev/null >"$log/$name.build" 2>&1; then
        printf '%-22s BUILD FAILED (%s)\n' "$name" "$log/$name.build"
        failed=$((failed + 1))
        continue
    fi

    tests=$(perl -e 'print +(split / \| /, $ARGV[0])[4]' "$line")

    # shellcheck disable=SC2086
    if (cd "$tree" && LIVE_RECORD_MODULE=$tree/build/ngx_live_record_module.so \
            prove $tests </dev/null >"$log/$name.prove" 2>&1); then
        printf '%-22s SURVIVED  %s\n' "$name" "$tests"
        survived=$((survived + 1))
    else
        printf '%-22s caught    %s\n' "$name" "$(grep -oE '^t/[a-z0-9_]+\.t +\(Wstat' \
            "$log/$name.prove" | sed 's/ *(Wstat//' | tr '\n' ' ')"
    fi
done < "$list"

git -C "$tree" checkout -q -- .
echo "$n mutations: $survived survived, $failed not applied or not built;" \
     "logs in $log"
[ "$survived" -eq 0 ] && [ "$failed" -eq 0 ]
