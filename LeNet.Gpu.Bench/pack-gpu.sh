#!/usr/bin/env bash
# Builds, on a machine with the .NET SDK, what run-gpu.sh needs on a lent GPU machine, which has no .NET at all:
# a self-contained linux-x64 build of LeNet.Gpu.Bench (the .NET runtime included), holding only what a linux-x64
# process loads, packed as LeNet.Gpu.Bench/gpu-pack/bench.tar.xz; and MNIST's test split (gzipped IDX) in
# gpu-pack/mnist/ for run-gpu.sh's correctness check. gpu-pack/ is ignored by git; pass it in the run tool's
# `carry` (64 MiB at most). Prints the pack's size.
# Usage: bash LeNet.Gpu.Bench/pack-gpu.sh
#   MNIST: the first folder holding t10k-images-idx3-ubyte[.gz] of $LENET_MNIST, $LENET_DATA/mnist,
#   ~/.cache/lenet/mnist, /work/data/mnist; without one the check runs on random images.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish "$here/LeNet.Gpu.Bench.csproj" -c Release -r linux-x64 --self-contained true \
    -p:DebugType=none -p:GenerateDocumentationFile=false -o "$work/bench"

# Dead weight on linux-x64: Windows and macOS native libraries that NuGet packages copy next to the program
# (ONNX Runtime's onnxruntime.dll, BenchmarkDotNet's amd64/x86/arm64 Windows tracing helpers), any runtimes/ folder
# of another platform, and symbols. A .dll is kept only if it is a .NET assembly.
removed=0
drop() { local bytes; bytes=$(du -sb "$1" | cut -f1); removed=$((removed + bytes)); echo "  dropped ${1#"$work/bench/"} ($((bytes >> 10)) KiB)"; rm -rf "$1"; }
echo "pack-gpu: dropping what linux-x64 never loads:"
for dir in amd64 x86 arm64 arm; do [[ -d $work/bench/$dir ]] && drop "$work/bench/$dir"; done
while IFS= read -r -d '' dir; do drop "$dir"; done < <(find "$work/bench" -type d -path '*/runtimes/*' -prune \
    \( -name 'win*' -o -name 'osx*' -o -name '*musl*' -o -name 'linux-arm*' -o -name 'browser*' -o -name 'maccatalyst*' -o -name 'ios*' -o -name 'android*' \) -print0)
while IFS= read -r -d '' file; do drop "$file"; done < <(find "$work/bench" -type f \( -name '*.dylib' -o -name '*.pdb' \) -print0)
while IFS= read -r -d '' file; do
    # A .NET assembly has a CLI header; a Windows native library does not (read from its PE headers, no other tool).
    bash "$here/is-dotnet-assembly.sh" "$file" || drop "$file"
done < <(find "$work/bench" -type f -name '*.dll' -print0)
echo "pack-gpu: dropped $((removed >> 10)) KiB in all"

mkdir -p "$here/gpu-pack"
tar -C "$work" -cf - bench | xz -T0 -6 > "$here/gpu-pack/bench.tar.xz.tmp"
mv "$here/gpu-pack/bench.tar.xz.tmp" "$here/gpu-pack/bench.tar.xz"
git -C "$root" rev-parse HEAD > "$here/gpu-pack/commit.txt"

# MNIST's test split for `Bench --check` (about 1.7 MB gzipped).
rm -rf "$here/gpu-pack/mnist"
for candidate in "${LENET_MNIST:-}" "${LENET_DATA:+$LENET_DATA/mnist}" "$HOME/.cache/lenet/mnist" /work/data/mnist; do
    [[ -n $candidate && -d $candidate ]] || continue
    mkdir -p "$here/gpu-pack/mnist"
    for stem in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        if [[ -f $candidate/$stem.gz ]]; then cp "$candidate/$stem.gz" "$here/gpu-pack/mnist/"
        elif [[ -f $candidate/$stem ]]; then gzip -9 -c "$candidate/$stem" > "$here/gpu-pack/mnist/$stem.gz"
        fi
    done
    if [[ -f $here/gpu-pack/mnist/t10k-images-idx3-ubyte.gz && -f $here/gpu-pack/mnist/t10k-labels-idx1-ubyte.gz ]]; then
        echo "pack-gpu: MNIST test split from $candidate"
        break
    fi
    rm -rf "$here/gpu-pack/mnist"
done
[[ -d $here/gpu-pack/mnist ]] || echo "pack-gpu: no MNIST test split found; run-gpu.sh's check will use random images" >&2

ls -l "$here/gpu-pack" "$here/gpu-pack/mnist" 2>/dev/null
unpacked=$(du -sb "$work/bench" | cut -f1)
size=$(du -sb "$here/gpu-pack" | cut -f1)
echo "pack-gpu: gpu-pack is $((size >> 20)) MiB ($size bytes; the bench unpacks to $((unpacked >> 20)) MiB); the run tool carries 64 MiB at most"
if (( size > 60 * 1024 * 1024 )); then echo "gpu-pack is $((size >> 20)) MiB: too large to carry (64 MiB in all)" >&2; exit 1; fi
