#!/usr/bin/env bash
# Builds, on a machine with the .NET SDK, what run-gpu.sh needs on a lent GPU machine, which has no .NET at all:
# a self-contained linux-x64 build of LeNet.Gpu.Bench (the .NET runtime included), packed as
# LeNet.Gpu.Bench/gpu-pack/bench.tar.xz (ignored by git; pass it in the run tool's `carry`, 64 MiB at most).
# Usage: bash LeNet.Gpu.Bench/pack-gpu.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish "$here/LeNet.Gpu.Bench.csproj" -c Release -r linux-x64 --self-contained true \
    -p:DebugType=none -p:GenerateDocumentationFile=false -o "$work/bench"
# Native libraries for other platforms are dead weight there.
find "$work/bench" -type d -path '*/runtimes/*' \( -name 'win*' -o -name 'osx*' -o -name '*musl*' -o -name 'linux-arm*' \) -prune -exec rm -rf {} +
mkdir -p "$here/gpu-pack"
tar -C "$work" -cf - bench | xz -T0 -6 > "$here/gpu-pack/bench.tar.xz"
git -C "$root" rev-parse HEAD > "$here/gpu-pack/commit.txt"
ls -l "$here/gpu-pack"
size=$(stat -c %s "$here/gpu-pack/bench.tar.xz")
if (( size > 60 * 1024 * 1024 )); then echo "bench.tar.xz is $((size >> 20)) MiB: too large to carry (64 MiB in all)" >&2; exit 1; fi
