#!/usr/bin/env bash
# Builds each libFuzzer target (Swift's -sanitize=fuzzer, with AddressSanitizer) and runs it for a bounded
# time on its corpus in Fuzz/Corpus/<target>. Not part of CI's test run: it takes minutes per target.
#
#   Fuzz/run.sh [seconds per target, default 60] [target …]
#
# New inputs the fuzzer finds go to .build/fuzz/corpus/<target> (not committed); the committed seeds stay
# small. A crash writes .build/fuzz/crash-<target>-* and stops the script with a non-zero exit: turn the
# input into a regression test in Tests/ before fixing it.
set -euo pipefail

seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.build/fuzz"
mkdir -p "$out"
all_targets=(JSONDecoderFuzz BareNumberDecoderFuzz LineProtocolDecoderFuzz TopicTemplateFuzz LogRecoveryFuzz)
targets=("${@:-${all_targets[@]}}")

# The package's modules are compiled here again, instrumented for coverage, as static libraries; swiftc
# is simpler than teaching SwiftPM a second configuration of the same targets.
swift_flags=(-O -swift-version 6 -enable-upcoming-feature MemberImportVisibility -parse-as-library -package-name kappa -sanitize=fuzzer,address -I "$out")
if [ ! -d "$root/.build/checkouts/swift-log/Sources/Logging" ]; then
    (cd "$root" && swift package resolve)
fi

rebuilt=0
build_module() {  # name, source directory; a module is rebuilt when its sources or a module before it changed
    local name="$1" sources="$2"
    local newest
    newest="$(find "$sources" -name '*.swift' -newer "$out/lib$name.a" 2>/dev/null | head -1 || true)"
    if [ -f "$out/lib$name.a" ] && [ -z "$newest" ] && [ "$rebuilt" = 0 ]; then return; fi
    rebuilt=1
    echo "building $name" >&2
    mapfile -t files < <(find "$sources" -name '*.swift' | sort)
    local flags=("${swift_flags[@]}")
    # swift-log is a dependency, not under test: no sanitizers there.
    if [ "$name" = Logging ]; then flags=(-O -swift-version 6 -parse-as-library -package-name swift_log -I "$out"); fi
    (cd "$out" && swiftc "${flags[@]}" -module-name "$name" -emit-module -emit-module-path "$out/$name.swiftmodule" \
        -emit-library -static -o "$out/lib$name.a" "${files[@]}")
}

build_module Logging "$root/.build/checkouts/swift-log/Sources/Logging"
build_module KappaCore "$root/Sources/KappaCore"
build_module KappaLog "$root/Sources/KappaLog"

status=0
for target in "${targets[@]}"; do
    echo "building $target" >&2
    swiftc "${swift_flags[@]}" -L "$out" -lKappaLog -lKappaCore -lLogging \
        "$root/Fuzz/$target.swift" "$root/Fuzz/FuzzSupport.swift" -o "$out/$target" 2> "$out/$target.build.log" \
        || { cat "$out/$target.build.log" >&2; exit 1; }
    seeds="$root/Fuzz/Corpus/$target"
    corpus="$out/corpus/$target"
    mkdir -p "$corpus" "$seeds"
    echo "running $target for ${seconds}s" >&2
    if ! (cd "$out" && "./$target" "$corpus" "$seeds" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
            -rss_limit_mb=2048 -artifact_prefix="$out/crash-$target-" -print_final_stats=1 > "$out/$target.log" 2>&1); then
        echo "$target FAILED; see $out/$target.log" >&2
        tail -40 "$out/$target.log" >&2
        status=1
    fi
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" "$out/$target.log" | sed "s/^/$target /"
    echo "$target corpus: $(ls "$corpus" | wc -l) inputs, $(du -sk "$corpus" | cut -f1) KiB" 
done
exit $status
