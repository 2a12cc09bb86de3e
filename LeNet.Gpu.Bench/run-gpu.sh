#!/usr/bin/env bash
# Everything a GPU lease should measure, in one command, every output under one results folder.
#
#   bash LeNet.Gpu.Bench/run-gpu.sh [PART...]        (no PART: all of them, in this order)
#
#   info     nvidia-smi, CPU, PyTorch version                                        (seconds)
#   check    probabilities of 8 fixed images: CPU engine, CUDA per-layer, CUDA fused, PyTorch; compared  (~1 min)
#   tests    dotnet test LeNet.Gpu.sln (GPU tests run where a GPU is present); only where the .NET SDK is
#   pytorch  pytorch/lenet5_bench.py: eager, torch.compile, compiled end to end, batch 1 to 65,536   (~2-4 min)
#   gpu      BenchmarkDotNet --quick: Ceiling, DeviceResident, FusedInference (what the issue's targets need),
#            on the devices in LENET_BENCH_DEVICES (default cuda)                                  (~4-6 min)
#   gpu-layers  BenchmarkDotNet --quick: LayerKernel, TrainingKernel (every kernel alone), InferenceBenchmarks,
#            TrainingBenchmarks, same devices                                                       (~3-5 min)
#   cpu      BenchmarkDotNet --quick: CpuEngine* and OnnxRuntimePeer on the machine's cores     (~4-7 min)
#            then compare-pytorch-cpu.sh on those results: PyTorch eager on the CPU, same batches and
#            thread counts, and the engine ÷ PyTorch table (compare-pytorch-cpu/compare.md)      (~1 min)
#
# Results: $RESULTS, else $OUT (the run tool's folder that comes back), else LeNet.Gpu.Bench/gpu-results.
# steps.txt there lists each step with its exit status and seconds.
#
# .NET: with the SDK on PATH the solution is built here and BenchmarkDotNet runs each case in its own process.
# The lent GPU machines have no .NET at all: there the bench runs from LeNet.Gpu.Bench/gpu-pack/bench.tar.xz, a
# self-contained build made beforehand by `bash LeNet.Gpu.Bench/pack-gpu.sh` on a machine with the SDK and carried
# along (run tool: carry ["LeNet.Gpu.Bench/gpu-pack"]), with every case in one process (--in-process), and the
# tests part is skipped. Each run-tool call may last 10 minutes, so on a lease run it as four calls, most
# important first:
#   bash LeNet.Gpu.Bench/run-gpu.sh info check pytorch
#   bash LeNet.Gpu.Bench/run-gpu.sh gpu
#   bash LeNet.Gpu.Bench/run-gpu.sh gpu-layers
#   bash LeNet.Gpu.Bench/run-gpu.sh cpu
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
results=${RESULTS:-${OUT:-$here/gpu-results}}
mkdir -p "$results"
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PYTHONUNBUFFERED=1
export LENET_BENCH_DEVICES=${LENET_BENCH_DEVICES:-cuda}
parts=("$@")
(( ${#parts[@]} )) || parts=(info check tests pytorch gpu gpu-layers cpu)
python=${PYTHON:-python3}

# step NAME COMMAND...: runs COMMAND, its output to the terminal and to NAME.log, its status and time to steps.txt.
step() {
    local name=$1; shift
    local start=$SECONDS
    echo "=== $name: $*" | tee -a "$results/steps.txt"
    "$@" 2>&1 | tee "$results/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$results/steps.txt"
    return 0
}

sdk=0
if [[ -z ${USE_PACK:-} ]] && command -v dotnet > /dev/null && dotnet --list-sdks 2>/dev/null | grep -q .; then sdk=1; fi
bench=()
prepare_bench() {
    (( ${#bench[@]} )) && return 0
    if (( sdk )); then
        step build dotnet build "$root/LeNet.Gpu.sln" -c Release
        bench=(dotnet "$here/bin/Release/net10.0/LeNet.Gpu.Bench.dll")
        inprocess=()
    else
        local pack=$here/gpu-pack/bench.tar.xz dir=${TMPDIR:-/tmp}/lenet-gpu-bench
        if [[ ! -f $pack ]]; then
            echo "no .NET SDK here and no $pack: run 'bash LeNet.Gpu.Bench/pack-gpu.sh' where .NET is, and carry LeNet.Gpu.Bench/gpu-pack" | tee -a "$results/steps.txt"
            return 1
        fi
        if [[ ! -x $dir/bench/LeNet.Gpu.Bench ]]; then mkdir -p "$dir" && tar -C "$dir" -xJf "$pack" || return 1; fi
        echo "bench: self-contained pack built from commit $(cat "$here/gpu-pack/commit.txt" 2>/dev/null || echo '?'), run in process" | tee -a "$results/steps.txt"
        bench=("$dir/bench/LeNet.Gpu.Bench")
        inprocess=(--in-process)
    fi
}

for part in "${parts[@]}"; do
    case $part in
    info)
        step info bash -c 'date -u; nvidia-smi; nvidia-smi -q -d CLOCK,MEMORY,POWER | head -120; lscpu | head -20; free -g;
            '"$python"' -c "import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))"'
        ;;
    check)
        prepare_bench || continue
        for engine in "cpu" "cuda per-layer" "cuda fused"; do
            name=probabilities-${engine// /-}
            # shellcheck disable=SC2086
            step "$name" "${bench[@]}" --probabilities lenet5-digits $engine
            cp "$results/$name.log" "$results/$name.txt"
            step "compare-${engine// /-}" "$python" "$here/pytorch/lenet5_bench.py" --check --compare "$results/$name.txt"
        done
        ;;
    tests)
        if (( sdk )); then
            step tests dotnet test "$root/LeNet.Gpu.sln" -c Release --logger "trx;LogFileName=tests.trx" --results-directory "$results/tests"
        else
            echo "=== tests: skipped, no .NET SDK here or USE_PACK set (the check part compares CUDA with the CPU engine and PyTorch)" | tee -a "$results/steps.txt"
        fi
        ;;
    pytorch)
        step pytorch "$python" "$here/pytorch/lenet5_bench.py" --output "$results/pytorch.md"
        step pytorch-cudagraphs "$python" "$here/pytorch/lenet5_bench.py" --compile-mode reduce-overhead --batches 1,64,1024 \
            --output "$results/pytorch-reduce-overhead.md"
        ;;
    gpu)
        prepare_bench || continue
        step bench-gpu "${bench[@]}" --quick "${inprocess[@]}" --artifacts "$results/bdn-gpu" --filter \
            '*Ceiling*' '*DeviceResident*' '*FusedInference*'
        ;;
    gpu-layers)
        prepare_bench || continue
        step bench-gpu-layers "${bench[@]}" --quick "${inprocess[@]}" --artifacts "$results/bdn-gpu-layers" --filter \
            '*LayerKernel*' '*TrainingKernel*' 'LeNet.Gpu.Bench.InferenceBenchmarks*' 'LeNet.Gpu.Bench.TrainingBenchmarks*'
        ;;
    cpu)
        prepare_bench || continue
        step bench-cpu "${bench[@]}" --quick "${inprocess[@]}" --artifacts "$results/bdn-cpu" --filter '*CpuEngine*' '*OnnxRuntimePeer*'
        step compare-pytorch-cpu env RESULTS="$results/compare-pytorch-cpu" PYTHON="$python" \
            bash "$here/compare-pytorch-cpu.sh" --bdn-results "$results/bdn-cpu"
        ;;
    *)
        echo "unknown part '$part' (info, check, tests, pytorch, gpu, gpu-layers, cpu)" >&2
        exit 2
        ;;
    esac
done
echo "results in $results"
