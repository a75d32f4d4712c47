#!/usr/bin/env bash
# Build the libFuzzer targets and run each one on a copy of its committed
# corpus for SECONDS seconds (default 60).  Fails on any crash, leak,
# timeout or broken invariant; the input that did it is printed (base64)
# and kept under the temp dir named in the output.
#
#     bash tests/fuzz/ci.sh [SECONDS]
#
# Needs clang and libclang-rt-14-dev (.ci/run installs them).  Writes
# nothing into the repository except build-fuzz/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
targets="fuzz_tar_parser fuzz_decoder_parser fuzz_pipeline fuzz_decoders fuzz_gzip_engines"

python3 configure.py --fuzz
ninja -f build-fuzz/build.ninja

work=$(mktemp -d /tmp/rzup-fuzz-ci.XXXXXX)
status=0
for t in $targets; do
    mkdir -p "$work/$t"
    cp -r "tests/fuzz/corpus/$t/." "$work/$t/"
    echo "fuzz: $t for ${secs}s on $(ls "$work/$t" | wc -l) corpus inputs"
    start=$(date +%s)
    if ! build-fuzz/fuzz/$t -max_total_time="$secs" -timeout=10 \
            -dict=tests/fuzz/tar.dict -print_final_stats=1 \
            -artifact_prefix="$work/$t-" "$work/$t" >"$work/$t.log" 2>&1; then
        status=1
        echo "fuzz: $t FAILED; last lines of $work/$t.log:"
        tail -n 40 "$work/$t.log"
        for a in "$work/$t"-*; do
            [ -f "$a" ] || continue
            echo "fuzz: input $a (base64):"
            base64 -w 0 "$a"
            echo
        done
    else
        grep -E '^stat::number_of_executed_units|^Done ' "$work/$t.log" | tail -n 2
        echo "fuzz: $t passed in $(( $(date +%s) - start ))s"
    fi
done
if [ "$status" = 0 ]; then
    rm -rf "$work"
fi
exit "$status"
