#!/usr/bin/env bash
# The CPU engine against PyTorch eager on the CPU, measured back to back on this machine in one invocation.
#
#   bash LeNet.Gpu.Bench/compare-pytorch-cpu.sh [--bdn-results DIR]
#
# 1. BenchmarkDotNet, quick job (1 warm-up, 3 iterations), filter '*CpuEngineInferenceBenchmarks.Engine':
#    CpuNetwork.Forward at the suite's batch sizes and thread counts ([Params] in CpuEngineBenchmarks.cs: batches
#    1, 64, 1,024, 8,192; threads 1 and Environment.ProcessorCount), model LeNetModel.CreateRandom(1).
#    With --bdn-results DIR this step is skipped and the newest *-report.csv under DIR that holds those cases is
#    read instead (run-gpu.sh's cpu part passes the folder its own BenchmarkDotNet run just wrote).
# 2. pytorch/lenet5_bench.py --device cpu --no-compile --threads T at the same batch sizes, for each thread count
#    BenchmarkDotNet used, with the shipped lenet5-digits weights; eager only (--no-compile, on any torch version;
#    torch 1.x has no torch.compile anyway).
# 3. A markdown table: images/s of both and engine ÷ PyTorch (above 1: the engine is faster), printed and written
#    to compare.md beside the logs.
#
# Environment: PYTHON, a python with torch (default: the first of python3, /usr/bin/python3 that imports torch);
# RESULTS, the output folder (default LeNet.Gpu.Bench/BenchmarkDotNet.Artifacts/compare-pytorch-cpu-<UTC time>);
# MIN_SECONDS, PyTorch's minimum time per case (default 1); BENCH, the command that runs LeNet.Gpu.Bench (default:
# build the solution in Release, then dotnet LeNet.Gpu.Bench.dll).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PYTHONUNBUFFERED=1

bdn_results=
while (( $# )); do
    case $1 in
    --bdn-results) bdn_results=$2; shift 2 ;;
    *) echo "usage: $0 [--bdn-results DIR]" >&2; exit 2 ;;
    esac
done

python=${PYTHON:-}
if [[ -z $python ]]; then
    for candidate in python3 /usr/bin/python3; do
        if "$candidate" -c 'import torch' 2> /dev/null; then python=$candidate; break; fi
    done
fi
if [[ -z $python ]] || ! "$python" -c 'import torch' 2> /dev/null; then
    echo "no python with torch found (set PYTHON)" >&2
    exit 1
fi

results=${RESULTS:-$here/BenchmarkDotNet.Artifacts/compare-pytorch-cpu-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$results"
min_seconds=${MIN_SECONDS:-1}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "nproc: $(nproc)"
    lscpu | grep -m1 'Model name' || true
    echo "python: $python"
    "$python" -c 'import torch; print("torch", torch.__version__, "default threads", torch.get_num_threads())'
} | tee "$results/machine.txt"

if [[ -z $bdn_results ]]; then
    bdn_results=$results/bdn
    if [[ -n ${BENCH:-} ]]; then
        read -r -a bench <<< "$BENCH"
    else
        dotnet build "$root/LeNet.Gpu.sln" -c Release > "$results/build.log" 2>&1 \
            || { echo "build failed: $results/build.log" >&2; exit 1; }
        bench=(dotnet "$here/bin/Release/net10.0/LeNet.Gpu.Bench.dll")
    fi
    echo "=== BenchmarkDotNet: ${bench[*]} --quick --artifacts $bdn_results --filter '*CpuEngineInferenceBenchmarks.Engine'"
    "${bench[@]}" --quick --artifacts "$bdn_results" --filter '*CpuEngineInferenceBenchmarks.Engine' 2>&1 \
        | tee "$results/bdn.log" | grep -E '^\| *Engine|^// \*\*\*\*' || true
fi

# The engine's cases as lines "batch threads mean_ns", from the newest BenchmarkDotNet CSV report that has them.
engine_cases() {
    "$python" - "$1" <<'EOF'
import csv, glob, os, re, sys
units = {"ns": 1.0, "μs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "**", "*-report.csv"), recursive=True),
                   key=os.path.getmtime, reverse=True):
    with open(path, newline="", encoding="utf-8") as f:
        # A joined report (Program.cs joins summaries) names each row's class in Type; a per-class one, its file.
        rows = [r for r in csv.DictReader(f)
                if r.get("Method") == "Engine" and "BatchSize" in r and "Threads" in r
                and (r["Type"] == "CpuEngineInferenceBenchmarks" if "Type" in r
                     else "CpuEngineInferenceBenchmarks" in os.path.basename(path))]
    if not rows:
        continue
    for r in rows:
        m = re.fullmatch(r"([\d.,]+) (\S+)", r["Mean"].strip())
        if m is None:
            continue  # NA: the case failed
        print(r["BatchSize"], r["Threads"], float(m.group(1).replace(",", "")) * units[m.group(2)])
    print(f"(from {path})", file=sys.stderr)
    break
EOF
}
cases=$(engine_cases "$bdn_results") || true
if [[ -z $cases ]]; then
    echo "no CpuEngineInferenceBenchmarks.Engine results under $bdn_results" >&2
    exit 1
fi
batches=$(awk '{print $1}' <<< "$cases" | sort -n -u | paste -sd,)
threads=$(awk '{print $2}' <<< "$cases" | sort -n -u)

for t in $threads; do
    echo "=== PyTorch, $t thread(s): lenet5_bench.py --device cpu --no-compile --threads $t --batches $batches --min-seconds $min_seconds"
    "$python" "$here/pytorch/lenet5_bench.py" --device cpu --no-compile --threads "$t" --batches "$batches" \
        --min-seconds "$min_seconds" --output "$results/pytorch-$t.md" > "$results/pytorch-$t.log" 2>&1 \
        || { cat "$results/pytorch-$t.log" >&2; exit 1; }
    head -1 "$results/pytorch-$t.md"
done

echo "$cases" > "$results/engine-cases.txt"
"$python" - "$results" <<'EOF' | tee "$results/compare.md"
import sys
from pathlib import Path
results = Path(sys.argv[1])
engine = {}
for line in (results / "engine-cases.txt").read_text().split("\n"):
    if line.strip():
        batch, threads, mean_ns = line.split()
        engine[int(batch), int(threads)] = int(batch) / (float(mean_ns) / 1e9)
torch_version = ""
pytorch = {}
for (batch, threads) in engine:
    path = results / f"pytorch-{threads}.md"
    lines = path.read_text().split("\n")
    torch_version = lines[0].split(",")[0]
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].replace(",", "").isdigit() and int(cells[0].replace(",", "")) == batch:
            pytorch[batch, threads] = float(cells[1].replace(",", ""))
print(f"CPU engine (BenchmarkDotNet quick job, CpuEngineInferenceBenchmarks.Engine) against {torch_version} eager "
      "on the CPU; images/s; ratio = engine ÷ PyTorch (above 1: the engine is faster)")
print()
print("| Batch | Threads | PyTorch eager, images/s | CPU engine, images/s | Engine ÷ PyTorch |")
print("|---:|---:|---:|---:|---:|")
for batch, threads in sorted(engine):
    theirs = pytorch.get((batch, threads))
    ours = engine[batch, threads]
    ratio = f"**{ours / theirs:.1f}×**" if theirs else "n/a"
    print(f"| {batch:,} | {threads} | {f'{theirs:,.0f}' if theirs else 'n/a'} | {ours:,.0f} | {ratio} |")
EOF
echo "results in $results"
