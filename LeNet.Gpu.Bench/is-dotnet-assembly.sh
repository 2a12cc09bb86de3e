#!/usr/bin/env bash
# Exit 0 when FILE is a .NET assembly, 1 when it is not (a native library, or not a PE file at all), reading the
# PE headers with od alone: a .NET assembly is a PE file whose optional header lists a CLI header (data directory
# 14, "COM descriptor") with a non-zero address. Works for PE32 (AnyCPU builds) and PE32+ (ReadyToRun x64).
#   bash LeNet.Gpu.Bench/is-dotnet-assembly.sh FILE
set -euo pipefail
file=$1
u() { od -An -t "u$1" -j "$2" -N "$1" -- "$file" 2>/dev/null | tr -d ' '; }   # u BYTES OFFSET: a little-endian number
[[ $(head -c 2 -- "$file" 2>/dev/null) == MZ ]] || exit 1
pe=$(u 4 60)                                                  # e_lfanew: where the "PE\0\0" signature is
[[ -n $pe && $(od -An -c -j "$pe" -N 2 -- "$file" | tr -d ' ') == PE ]] || exit 1
optional=$(( pe + 24 ))                                       # after the signature (4) and the COFF header (20)
case $(u 2 "$optional") in
267) directories=$(( optional + 96 )) ;;                      # 0x10b: PE32
523) directories=$(( optional + 112 )) ;;                     # 0x20b: PE32+
*) exit 1 ;;
esac
count=$(u 4 $(( directories - 4 )))                           # NumberOfRvaAndSizes
(( ${count:-0} > 14 )) || exit 1
cli_rva=$(u 4 $(( directories + 14 * 8 )))
(( ${cli_rva:-0} != 0 ))
