#!/bin/bash
# run-tests.sh host|kernel|lab|all - run the suites and end with "N passed, N failed".
#   host:   test/unit + test/host (parallel, no lab)
#   kernel: kernel-patch/check.sh (checkpatch --strict, bisect builds, W=1, ynl-gen)
#   lab:    test/e2e (one file at a time: each boots Xen in QEMU/TCG once, shared
#           by its cases); the summary lists every lab file's wall time
#   all:    host, then the lab files; the kernel checks run in the background beside
#           the lab file named by $KERNEL_BESIDE (default netback-teardown: the longest
#           file and one that measures no timing), since the lab's QEMU uses one CPU
#           and the kernel builds (make without -j) the other. Likewise the lab files
#           named by $LAB_BESIDE run one after the other in the background beside a
#           foreground file: "FILE:BG,BG..." entries, default
#             cli:negative-control,xenstore,lab-basic   (they measure no timing, and the
#               CLI file is about as long as the three: ~30 s per CLI call in TCG dom0)
#             kernel-6.12:netback-limits   (bounds and counters, no timing; the 6.12
#               file's paused-peer pings have seconds of slack)
#           two QEMUs, one CPU each. Their output follows that of the file they ran
#           beside. LAB_BESIDE="" runs every lab file in the foreground, one at a time.
# host also runs `npm run check:static` (generated code up to date, layering) when
# package.json has it. N counts assertions over all suites (a static check counts
# one). Exit status non-zero if anything failed.
set -uo pipefail
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
shopt -s nullglob
what=${1:-all}
passed=0 failed=0 rc=0 t0=$SECONDS
times=()   # "SECONDS  name" per lab file and kernel series, for the summary
suite() {  # suite NAME TAP-ARGS...
    local name=$1 out; shift
    out=$(mktemp)
    echo "=== $name: tap $*"
    npx tap --disable-coverage --allow-empty-coverage "$@" 2>&1 | tee "$out"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    # tap's closing summary: "# { total: 21, pass: 20, fail: 1, ... }"
    local summary p f
    summary=$(grep -E '^# \{ total: ' "$out" | tail -1)
    p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
    if [ -z "$summary" ]; then echo "=== $name: no tap summary (tap crashed?)"; f=1; rc=1; fi
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    rm -f "$out"
}
add_summary() {  # add_summary FILE NAME: count FILE's last "N passed, N failed" line
    local p f
    p=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' "$1" | tail -1)
    f=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' "$1" | tail -1)
    [ -n "$p" ] || { echo "=== $2: no summary line"; f=1; rc=1; }
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}
kernel_checks() {  # the patch series' own checks print "N passed, N failed" too
    local series out
    for series in kernel-patch/*/series; do
        series=$(basename "$(dirname "$series")")
        out=$(mktemp) start=$SECONDS
        echo "=== kernel $series: kernel-patch/check.sh --series $series"
        kernel-patch/check.sh --series "$series" 2>&1 | tee "$out"
        [ "${PIPESTATUS[0]}" = 0 ] || rc=1
        add_summary "$out" "kernel $series"
        rm -f "$out"
        times+=("$(printf '%5d s  kernel-patch/%s (check.sh)' $((SECONDS - start)) "$series")")
    done
}
static_checks() {
    grep -q '"check:static"' package.json || return 0
    echo "=== static: npm run check:static"
    if npm run --silent check:static; then passed=$((passed + 1)); else failed=$((failed + 1)); rc=1; fi
}
kernel_background() {  # run-tests.sh kernel, in the background, output to $kernel_log
    kernel_log=$(mktemp)
    echo "=== kernel checks: started in the background (output at the end)"
    "$SELF" kernel > "$kernel_log" 2>&1 &
    kernel_pid=$!
}
background_collect() {  # background_collect PID LOG WHAT: wait for a background run, show its output, count it, keep its times
    local line
    wait "$1" || rc=1
    echo "=== $3 (ran in the background):"
    cat "$2"
    add_summary "$2" "$3"
    while IFS= read -r line; do times+=("$line (in the background)"); done < <(grep -E '^ +[0-9]+ s  (kernel-patch|test/e2e)/' "$2" | sed 's/^    //')
    rm -f "$2"
}
kernel_collect() {  # wait for the background kernel checks, show them, count them
    [ -n "${kernel_pid:-}" ] || return 0
    background_collect "$kernel_pid" "$kernel_log" "kernel checks"; kernel_pid=""
}
lab_file() {  # lab_file FILE: one lab file in the foreground, its time in the summary
    local start=$SECONDS
    suite "lab $(basename "$1" .test.ts)" --jobs=1 --timeout=1800 "$1"
    times+=("$(printf '%5d s  %s' $((SECONDS - start)) "$1")")
}
lab_background() {  # lab_background FILE...: those lab files in turn, in the background
    lab_bg_log=$(mktemp)
    echo "=== lab $(basename -s .test.ts "$@" | paste -sd " "): started in the background (output after this file's)"
    (
        passed=0 failed=0 rc=0 times=()
        for f in "$@"; do lab_file "$f"; done
        printf '    %s\n' "${times[@]}"
        echo "$passed passed, $failed failed"
        exit $rc
    ) > "$lab_bg_log" 2>&1 &
    lab_bg_pid=$!
}
lab_collect() {  # wait for the background lab files, show them, count them
    [ -n "${lab_bg_pid:-}" ] || return 0
    background_collect "$lab_bg_pid" "$lab_bg_log" "lab files"; lab_bg_pid=""
}
lab_files() {  # lab_files [with-kernel]
    local f name kbeside=${KERNEL_BESIDE:-netback-teardown} entry fg bg bgs
    local -A beside=()   # foreground file name -> its background files ("path path ")
    for entry in ${LAB_BESIDE-cli:negative-control,xenstore,lab-basic kernel-6.12:netback-limits}; do
        fg=${entry%%:*}
        [ -e "test/e2e/$fg.test.ts" ] || continue
        IFS=, read -ra bgs <<<"${entry#*:}"
        for bg in "${bgs[@]}"; do
            [ -e "test/e2e/$bg.test.ts" ] || continue
            beside[$fg]+="test/e2e/$bg.test.ts "
        done
    done
    for f in test/e2e/*.test.ts; do
        name=$(basename "$f" .test.ts)
        [[ " ${beside[*]} " == *" $f "* ]] && continue   # runs in the background of another
        [ "${1:-}" = with-kernel ] && [ "$name" = "$kbeside" ] && kernel_background
        # shellcheck disable=SC2086  # a list of paths without spaces
        [ -n "${beside[$name]:-}" ] && lab_background ${beside[$name]}
        lab_file "$f"
        [ -n "${beside[$name]:-}" ] && lab_collect
    done
    if [ "${1:-}" = with-kernel ]; then
        [ -n "${kernel_pid:-}" ] || kernel_checks   # no such lab file: run them after
        kernel_collect
    fi
}
case $what in
    host|all) static_checks; suite "unit+host" --jobs=2 --timeout=300 test/unit/*.test.ts test/host/*.test.ts ;;&
    kernel) kernel_checks ;;
    lab)  lab_files ;;
    all)  lab_files with-kernel ;;
    host) ;;
    *) echo "usage: run-tests.sh host|kernel|lab|all" >&2; exit 2 ;;
esac
[ $failed -gt 0 ] && rc=1
if [ ${#times[@]} -gt 0 ]; then
    echo "=== wall time per lab file and kernel series:"
    printf '    %s\n' "${times[@]}"
fi
echo "=== total wall time: $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s ($what)"
echo "$passed passed, $failed failed"
exit $rc
