#!/usr/bin/env bash
# Everything a GPU lease should measure, in ONE call that fits the lease, leaving ONE archive of every log and table.
#
#   bash LeNet.Gpu.Bench/run-gpu.sh [--budget SECONDS] [PART...]
#
# --budget: wall-clock seconds for the whole run (default 540, for one 10-minute run-tool call, leaving a minute for
# the machine's start and the transfers). Parts run in the order below, most valuable first. Before each part the
# script compares its estimate (seconds, in `estimate` below) with what is left of the budget, less 20 s kept for
# the archive: a part that does not fit is skipped (steps.txt says so) and the next, smaller parts still get their
# chance; a part that runs over is stopped at twice its estimate plus 30 s, or at the budget: one deadline for the
# part, shared by all of its steps. No PART: all of them.
#
#   probe      date, nvidia-smi, CPU, memory, PyTorch's version and device; Bench --devices: the engines found and,
#              for an absent CUDA or OpenCL, which driver library was looked for and what failed
#   check      Bench --check: CUDA per-layer and fused, floats and bytes, against the CPU engine image by image on
#              MNIST's 10,000 test images (LENET_CHECK_DATA, else gpu-pack/mnist; random images without them) at
#              batch 1, 64, 1,024, 16,384 and 65,536 (images repeated to fill a batch). A case passes when every
#              probability is within 1e-5 of the CPU engine's and the classes agree wherever the CPU engine's two
#              best probabilities are more than 2e-5 apart.
#   resident   BenchmarkDotNet --quick: DeviceResident (forward pass on images already on the device; per-layer and
#              fused, floats and bytes, batch 1 to 65,536)
#   pytorch    pytorch/lenet5_bench.py: eager and torch.compile (resident), compiled host in/out, batch 1 to 65,536
#   ceilings   BenchmarkDotNet --quick: Ceiling (device copy bandwidth, FP32 FMA rate)
#   training   BenchmarkDotNet --quick: TrainingBenchmarks (one SGD step at batch 16, 64, 256)
#   host       BenchmarkDotNet --quick: FusedInference (host images in, probabilities out, per-layer vs fused)
#   pytorch-check  probabilities of 8 fixed images: CPU engine, CUDA per-layer, CUDA fused, each against PyTorch
#   layers     BenchmarkDotNet --quick: LayerKernel (every forward kernel alone, batch 64 to 65,536)
#   training-kernels  BenchmarkDotNet --quick: TrainingKernel (every launch of a training step alone)
#   cpu        BenchmarkDotNet --quick: CpuEngine* and OnnxRuntimePeer on the machine's cores, then
#              compare-pytorch-cpu.sh (PyTorch eager on the CPU, engine ÷ PyTorch)
#   tests      dotnet test LeNet.Gpu.sln (only where the .NET SDK is; never on a lease)
#
# Results: every log and table goes to a work folder ($RESULTS, else a fresh temporary one); at the end, and on
# an interrupt, it is packed into ONE archive, lenet-gpu-results.tar.gz, in $OUT (the run tool's folder, which
# brings back at most 8 files, each at most 16 MiB), else in LeNet.Gpu.Bench/gpu-results/. An archive over 15 MiB
# is packed again without BenchmarkDotNet's own logs (their console output is in the step logs), then without the
# largest logs, each noted in steps.txt. steps.txt lists each part with its estimate, and each step with its time
# limit, exit status and seconds; summary.md gathers the tables. Exit status: 1 when the correctness check fails (a
# kernel disagrees with the CPU engine), 3 when it started but did not finish (stopped at its limit, killed or
# crashed; steps.txt says which), 2 for bad arguments, else 0 — never 124 or 137, which the run tool reads as its
# own timeout.
#
# .NET: the lent GPU machines have no .NET. There the bench runs from LeNet.Gpu.Bench/gpu-pack/bench.tar.xz, the
# self-contained build of `bash LeNet.Gpu.Bench/pack-gpu.sh` (made beforehand where the SDK is, carried with the
# run tool's carry: ["LeNet.Gpu.Bench/gpu-pack"]), every case in one process (--in-process). With the SDK on the
# PATH (and USE_PACK unset) the solution is built here instead. Without CUDA (a dry run) the GPU parts run on ILGPU's
# CPU accelerator with small sizes, PyTorch on the CPU, so every part is exercised; only the device changes.
# LENET_BENCH: a command to run as the bench instead of either (the tests give a stand-in).
#
# On a lease, one call:  bash LeNet.Gpu.Bench/run-gpu.sh            (carry: ["LeNet.Gpu.Bench/gpu-pack"])
# and, only if steps.txt shows parts skipped for time, a second one naming them, e.g.
#                        bash LeNet.Gpu.Bench/run-gpu.sh layers training-kernels cpu
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
started=$SECONDS

budget=540
parts=()
while (( $# )); do
    case $1 in
    --budget)
        [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "run-gpu.sh: --budget needs whole seconds, got '${2:-}'" >&2; exit 2; }
        budget=$2; shift 2 ;;
    --budget=*)
        budget=${1#--budget=}
        [[ $budget =~ ^[0-9]+$ ]] || { echo "run-gpu.sh: --budget needs whole seconds, got '$budget'" >&2; exit 2; }
        shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) parts+=("$1"); shift ;;
    esac
done
all_parts=(probe check resident pytorch ceilings training host pytorch-check layers training-kernels cpu tests)
(( ${#parts[@]} )) || parts=("${all_parts[@]}")
for part in "${parts[@]}"; do
    [[ " ${all_parts[*]} " == *" $part "* ]] || { echo "run-gpu.sh: unknown part '$part' (${all_parts[*]})" >&2; exit 2; }
done

reserve=20   # seconds kept for packing the archive
work=${RESULTS:-$(mktemp -d "${TMPDIR:-/tmp}/lenet-gpu-results.XXXXXX")}
mkdir -p "$work"
destination=${OUT:-$here/gpu-results}
mkdir -p "$destination"
archive=$destination/lenet-gpu-results.tar.gz
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PYTHONUNBUFFERED=1
python=${PYTHON:-python3}

left() { echo $(( budget - (SECONDS - started) - reserve )); }
part_end=0   # $SECONDS at which the current part's time is spent (0: only the budget limits it)
check_status=0
check_tolerance=1e-5   # the correctness check's pass criterion on every probability (Bench --check --tolerance)
max_archive=$((15 * 1024 * 1024))   # the run tool brings back files of at most 16 MiB; keep a margin

# summary.md: the tables worth reading first, in the order they were made.
summarize() {
    {
        echo "# GPU lease results ($(date -u '+%Y-%m-%d %H:%M UTC'), budget $budget s, used $((SECONDS - started)) s)"
        echo; echo '```'; cat "$work/steps.txt" 2>/dev/null; echo '```'
        for table in "$work/devices.txt" "$work/check.md" "$work/pytorch.md" "$work"/bdn-*/results/*-report-github.md \
            "$work"/pytorch-check-*.txt "$work/compare-pytorch-cpu/compare.md"; do
            [[ -f $table ]] || continue
            echo; echo "## ${table#"$work"/}"; echo
            if [[ $table == *.md ]]; then cat "$table"; else echo '```'; cat "$table"; echo '```'; fi
        done
    } > "$work/summary.md"
}

packed=0
pack() {
    (( packed )) && return 0
    packed=1
    summarize
    # One file in $OUT: the run tool brings back at most 8, each at most 16 MiB. Over 15 MiB, logs are left out of
    # the archive (never deleted from the work folder): BenchmarkDotNet's own first, then the largest others.
    local left_out=() size log
    tar -C "$work" -czf "$archive.tmp" . || return 1
    size=$(stat -c %s "$archive.tmp")
    if (( size > max_archive )); then
        while IFS= read -r -d '' log; do left_out+=("./${log#"$work"/}"); done \
            < <(find "$work" -path "$work/bdn-*" -type f -name '*.log' -print0)
        echo "=== archive: $((size >> 20)) MiB is over $((max_archive >> 20)) MiB: packed again without BenchmarkDotNet's ${#left_out[@]} own logs (the step logs hold their console output)" \
            | tee -a "$work/steps.txt"
        summarize
        tar -C "$work" -czf "$archive.tmp" "${left_out[@]/#/--exclude=}" . || return 1
        size=$(stat -c %s "$archive.tmp")
    fi
    while (( size > max_archive )); do
        log=$(find "$work" -type f -name '*.log' -printf '%s %p\n' | sort -n | cut -d' ' -f2- \
            | while IFS= read -r f; do [[ " ${left_out[*]} " == *" ./${f#"$work"/} "* ]] || echo "$f"; done | tail -n 1)
        if [[ -z $log ]]; then
            echo "=== archive: still $((size >> 20)) MiB with every log left out; the run tool may not bring it back" | tee -a "$work/steps.txt"
            break
        fi
        left_out+=("./${log#"$work"/}")
        echo "=== archive: $((size >> 20)) MiB is over $((max_archive >> 20)) MiB: packed again without ${log#"$work"/} ($(( $(stat -c %s "$log") >> 10 )) KiB)" \
            | tee -a "$work/steps.txt"
        summarize
        tar -C "$work" -czf "$archive.tmp" "${left_out[@]/#/--exclude=}" . || return 1
        size=$(stat -c %s "$archive.tmp")
    done
    mv "$archive.tmp" "$archive"
    echo "=== archive: $archive ($(du -h "$archive" | cut -f1), $(tar -tzf "$archive" | grep -vc '/$') files); $((SECONDS - started)) s of $budget"
}
trap 'pack' EXIT
trap 'echo "=== interrupted"; exit 130' INT TERM

# step NAME COMMAND...: runs COMMAND until its part's deadline or the budget ends, whichever is first, its output to
# the terminal and to NAME.log, its limit, status and time to steps.txt. step_stopped: 1 when it did not run to its
# end (not started for lack of time, or stopped at its limit).
step_stopped=0
step() {
    local name=$1; shift
    local t0=$SECONDS limit by=budget
    limit=$(left)
    step_stopped=1
    # A part that hangs must not eat the parts after it: all its steps together, at most twice its estimate plus 30 s.
    if (( part_end > 0 && part_end - SECONDS < limit )); then limit=$(( part_end - SECONDS )); by=part; fi
    if (( limit < 5 )); then
        if [[ $by == part ]]; then echo "=== $name: skipped, its part's time is spent" | tee -a "$work/steps.txt"
        else echo "=== $name: skipped, the budget is spent" | tee -a "$work/steps.txt"; fi
        return 1
    fi
    echo "=== $name: $* (limit $limit s, the $by's)" | tee -a "$work/steps.txt"
    timeout --kill-after=5 "$limit" "$@" 2>&1 | tee "$work/$name.log"
    local rc=${PIPESTATUS[0]}
    local note=""
    if (( rc == 124 || rc == 137 )); then
        if (( SECONDS - t0 < limit )); then note=" (killed before its limit of $limit s)"
        elif [[ $by == part ]]; then note=" (stopped at its part's limit of $limit s: twice the estimate plus 30 s)"
        else note=" (stopped at its limit of $limit s: the budget)"; fi
    else
        step_stopped=0
    fi
    echo "=== $name: exit $rc after $((SECONDS - t0)) s$note" | tee -a "$work/steps.txt"
    return $rc
}

# ------------------------------------------------------------------ the bench: built here, or the carried pack
sdk=0
if [[ -z ${USE_PACK:-} ]] && command -v dotnet > /dev/null && dotnet --list-sdks 2>/dev/null | grep -q .; then sdk=1; fi
bench=()
inprocess=()
prepare_bench() {
    (( ${#bench[@]} )) && return 0
    if [[ -n ${LENET_BENCH:-} ]]; then
        read -ra bench <<< "$LENET_BENCH"
        echo "=== bench: $LENET_BENCH (LENET_BENCH)" | tee -a "$work/steps.txt"
    elif (( sdk )); then
        step build dotnet build "$root/LeNet.Gpu.sln" -c Release || return 1
        bench=(dotnet "$here/bin/Release/net10.0/LeNet.Gpu.Bench.dll")
    else
        local pack=$here/gpu-pack/bench.tar.xz dir=${TMPDIR:-/tmp}/lenet-gpu-bench
        if [[ ! -f $pack ]]; then
            echo "=== no .NET SDK here and no $pack: run 'bash LeNet.Gpu.Bench/pack-gpu.sh' where .NET is, and carry LeNet.Gpu.Bench/gpu-pack" | tee -a "$work/steps.txt"
            return 1
        fi
        if [[ ! -x $dir/bench/LeNet.Gpu.Bench || $(cat "$dir/commit.txt" 2>/dev/null) != $(cat "$here/gpu-pack/commit.txt" 2>/dev/null) ]]; then
            rm -rf "$dir" && mkdir -p "$dir" && step unpack tar -C "$dir" -xJf "$pack" || return 1
            cp "$here/gpu-pack/commit.txt" "$dir/commit.txt" 2>/dev/null
        fi
        echo "=== bench: self-contained pack built from commit $(cat "$here/gpu-pack/commit.txt" 2>/dev/null || echo '?'), run in process" | tee -a "$work/steps.txt"
        bench=("$dir/bench/LeNet.Gpu.Bench")
        inprocess=(--in-process)
    fi
}

# Is there a CUDA device? Without one (a dry run) the GPU parts run small on ILGPU's CPU accelerator.
gpu=0
device=ilgpu-cpu
detect_gpu() {
    prepare_bench || return 0
    if LENET_BENCH_DEVICES=cuda "${bench[@]}" --devices > "$work/devices.txt" 2>&1; then gpu=1; device=cuda; fi
    echo "=== device for the GPU parts: $device" | tee -a "$work/steps.txt"
}
detected=0

# Estimated seconds per part (H200, pack run in process; dry runs on ILGPU's CPU accelerator in parentheses).
estimate() {
    if (( gpu )); then
        case $1 in
        probe) echo 20 ;; check) echo 80 ;; resident) echo 90 ;; pytorch) echo 150 ;; ceilings) echo 30 ;;
        training) echo 30 ;; host) echo 70 ;; pytorch-check) echo 40 ;; layers) echo 120 ;;
        training-kernels) echo 150 ;; cpu) echo 300 ;; tests) if (( sdk )); then echo 300; else echo 0; fi ;;
        esac
    else
        case $1 in
        probe) echo 20 ;; check) echo 60 ;; resident) echo 40 ;; pytorch) echo 60 ;; ceilings) echo 20 ;;
        training) echo 60 ;; host) echo 240 ;; pytorch-check) echo 40 ;; layers) echo 60 ;;
        training-kernels) echo 400 ;; cpu) echo 400 ;; tests) if (( sdk )); then echo 300; else echo 0; fi ;;
        esac
    fi
}

bdn() { # bdn NAME FILTER...: a BenchmarkDotNet --quick run of the filtered classes on $device (LENET_BENCH_DEVICES overrides)
    local name=$1; shift
    step "$name" env LENET_BENCH_DEVICES="${LENET_BENCH_DEVICES:-$device}" "${bench[@]}" --quick "${inprocess[@]}" \
        --artifacts "$work/bdn-$name" --filter "$@"
}

check_data=${LENET_CHECK_DATA:-$here/gpu-pack/mnist}

run_part() {
    case $1 in
    probe)
        step probe bash -c 'date -u; uname -a; nvidia-smi || echo "nvidia-smi: not here";
            nvidia-smi -q -d CLOCK,MEMORY,POWER 2>/dev/null | head -120; lscpu | head -20; free -g;
            '"$python"' -c "import torch; print(\"torch\", torch.__version__, \"cuda:\", torch.cuda.is_available() and torch.cuda.get_device_name(0))" || true'
        [[ -f $work/devices.txt ]] && { echo "--- Bench --devices:"; cat "$work/devices.txt"; } | tee -a "$work/probe.log"
        ;;
    check)
        prepare_bench || return
        echo "=== check: passes when every probability is within $check_tolerance of the CPU engine's and the classes agree wherever its two best are more than twice that apart" \
            | tee -a "$work/steps.txt"
        local rc
        if (( gpu )); then
            step check "${bench[@]}" --check --device cuda --data "$check_data" --tolerance "$check_tolerance" --output "$work/check.md"
            rc=$?
            # The squashed fused kernels (C1S2Squashed…, C3S4Squashed) run only for a model whose C1 and C3 squash.
            if (( rc == 0 )); then
                step check-paper "${bench[@]}" --check --device cuda --data "$check_data" --tolerance "$check_tolerance" \
                    --model lenet5-paper --output "$work/check-paper.md"
                rc=$?
            fi
        else
            step check "${bench[@]}" --check --device ilgpu-cpu --data "$check_data" --images 64 --batches 1,64 \
                --tolerance "$check_tolerance" --output "$work/check.md"
            rc=$?
        fi
        # 1: a kernel disagrees with the CPU engine. Anything else but 0 (stopped at its limit, killed, crashed, not
        # started for lack of time): it did not finish, exit 3, never the 124/137 the run tool reads as its own timeout.
        if (( rc == 0 )); then check_status=0
        elif (( rc == 1 && ! step_stopped )); then check_status=1
        else
            check_status=3
            echo "=== check: did not finish (exit $rc); run-gpu.sh exits 3" | tee -a "$work/steps.txt"
        fi
        ;;
    resident) prepare_bench && bdn resident '*DeviceResident*' ;;
    pytorch)
        if (( gpu )); then
            step pytorch "$python" "$here/pytorch/lenet5_bench.py" --min-seconds 0.25 --output "$work/pytorch.md"
        else
            step pytorch "$python" "$here/pytorch/lenet5_bench.py" --device cpu --no-compile --batches 1,64,1024 \
                --min-seconds 0.25 --output "$work/pytorch.md"
        fi
        ;;
    ceilings) prepare_bench && bdn ceilings '*Ceiling*' ;;
    training) prepare_bench && bdn training 'LeNet.Gpu.Bench.TrainingBenchmarks*' ;;
    host) prepare_bench && bdn host '*FusedInference*' ;;
    pytorch-check)
        prepare_bench || return
        local engines=("cpu")
        (( gpu )) && engines+=("cuda per-layer" "cuda fused")
        for engine in "${engines[@]}"; do
            local name=pytorch-check-${engine// /-}
            # shellcheck disable=SC2086
            step "$name-probabilities" "${bench[@]}" --probabilities lenet5-digits $engine || continue
            cp "$work/$name-probabilities.log" "$work/$name-probabilities.txt"
            step "$name" "$python" "$here/pytorch/lenet5_bench.py" --check --compare "$work/$name-probabilities.txt"
            cp "$work/$name.log" "$work/$name.txt"
        done
        ;;
    layers) prepare_bench && bdn layers '*LayerKernel*' ;;
    training-kernels) prepare_bench && bdn training-kernels '*TrainingKernel*' ;;
    cpu)
        prepare_bench || return
        bdn cpu '*CpuEngine*' '*OnnxRuntimePeer*'
        step compare-pytorch-cpu env RESULTS="$work/compare-pytorch-cpu" PYTHON="$python" \
            bash "$here/compare-pytorch-cpu.sh" --bdn-results "$work/bdn-cpu"
        ;;
    tests)
        if (( sdk )); then
            step tests dotnet test "$root/LeNet.Gpu.sln" -c Release --logger "trx;LogFileName=tests.trx" --results-directory "$work/tests"
        else
            echo "=== tests: skipped, no .NET SDK here or USE_PACK set (check compares CUDA with the CPU engine instead)" | tee -a "$work/steps.txt"
        fi
        ;;
    esac
}

echo "=== run-gpu.sh: budget $budget s (${reserve} s of it kept for the archive); parts: ${parts[*]}; work folder $work" | tee -a "$work/steps.txt"
for part in "${parts[@]}"; do
    if (( ! detected )) && [[ $part != tests ]]; then detect_gpu; detected=1; fi
    need=$(estimate "$part")
    have=$(left)
    if (( need > have )); then
        echo "=== $part: skipped for time (estimate $need s, $have s left)" | tee -a "$work/steps.txt"
        continue
    fi
    echo "=== $part: estimate $need s, $have s left" >> "$work/steps.txt"
    part_end=$(( SECONDS + 2 * need + 30 ))
    run_part "$part"
    part_end=0
done
echo "=== done after $((SECONDS - started)) s" | tee -a "$work/steps.txt"
pack
# What the run tool's output tail should show: the steps and the correctness table (the rest is in the archive).
echo; cat "$work/steps.txt"
if [[ -f $work/check.md ]]; then echo; cat "$work/check.md"; fi
# Exit status: the correctness check's (1: a kernel disagrees with the CPU engine; 3: it did not finish), else 0;
# steps.txt has the rest.
exit "$check_status"
