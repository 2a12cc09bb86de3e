#!/usr/bin/env bash
# Fetches NVIDIA's PTX assembler (ptxas) from Debian's non-free nvidia-cuda-toolkit .deb into a cache folder,
# installing nothing and leaving the machine's apt setup alone: a scratch sources file, a scratch package-lists
# folder and a scratch apt cache; only usr/bin/ptxas is taken from the downloaded .deb.
#
#   bash .ci/fetch-ptxas.sh            prints the ptxas path (fetching it first if the cache lacks it)
#   bash .ci/fetch-ptxas.sh --mirror   prints the Debian mirror it would fetch from, and nothing else
#
# Cache: $LENET_TOOLS, else ~/.cache/lenet-tools; ptxas lands in <cache>/ptxas/bin/ptxas with the package version
# beside it (<cache>/ptxas/version.txt). The tests look there too (LeNet.Gpu.Tests/Kernels/PtxAssemblerTests.cs).
# Needs network access to the Debian archive the machine's apt sources name for its suite (this script names no
# archive of its own: without one it says so and fails); no root needed.
set -euo pipefail
# The machine's own sources name the mirror; add the non-free component of the same suite.
suite=bookworm
if [[ -r /etc/os-release ]]; then suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}"); fi
# machine_mirror: the first URI that the machine's apt sources give for $suite itself (not -updates or -security),
# from one-line .list files or deb822 .sources files; nothing when none does.
machine_mirror() {
    local file uri
    local etc=${LENET_APT_ETC:-/etc/apt}   # another folder only for the tests
    for file in "$etc/sources.list" "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
        [[ -r $file ]] || continue
        if [[ $file == *.sources ]]; then
            uri=$(
            # deb822: stanzas split by blank lines; "Types:", "URIs:", "Suites:", "Enabled:" fields.
            awk -v suite="$suite" '
                function flush() {
                    if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && tolower(enabled) != "no" && uris != "") {
                        split(uris, u, " "); print u[1]; found = 1; exit
                    }
                    types = uris = suites = enabled = ""
                }
                /^[ \t]*$/ { flush(); next }
                /^#/ || /^[ \t]/ { next }
                {
                    field = tolower($1); sub(/:$/, "", field); value = $0; sub(/^[^:]*:[ \t]*/, "", value)
                    if (field == "types") types = value; else if (field == "uris") uris = value
                    else if (field == "suites") suites = value; else if (field == "enabled") enabled = value
                }
                END { if (!found) flush() }' "$file")
        else
            # One-line: deb [options] URI SUITE COMPONENTS...
            uri=$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$file" | awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }')
        fi
        if [[ -n $uri ]]; then echo "$uri"; return 0; fi
    done
}
mirror=$(machine_mirror)
if [[ -z $mirror ]]; then
    echo "fetch-ptxas: the apt sources in ${LENET_APT_ETC:-/etc/apt} name no Debian archive for $suite; add one there or place ptxas in ${LENET_TOOLS:-$HOME/.cache/lenet-tools}/ptxas/bin by hand" >&2
    exit 1
fi
if [[ ${1:-} == --mirror ]]; then echo "${mirror%/}"; exit 0; fi
cache=${LENET_TOOLS:-$HOME/.cache/lenet-tools}/ptxas
if [[ -x $cache/bin/ptxas ]] && "$cache/bin/ptxas" --version >/dev/null 2>&1; then
    echo "$cache/bin/ptxas"
    exit 0
fi
command -v apt-get >/dev/null || { echo "fetch-ptxas: no apt-get here" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/lists/partial" "$scratch/cache/archives/partial" "$scratch/deb"
echo "deb ${mirror%/} $suite non-free" > "$scratch/sources.list"
apt_options=(-o "Dir::Etc::SourceList=$scratch/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$scratch/lists" -o "Dir::Cache=$scratch/cache" -o Debug::NoLocking=1
    -o APT::Sandbox::User="$(id -un)" -o Acquire::Languages=none -o APT::Architecture=amd64)
echo "fetch-ptxas: apt-get update (${mirror%/} $suite non-free, scratch lists)" >&2
apt-get -qq "${apt_options[@]}" update >&2
version=$(apt-cache "${apt_options[@]}" show nvidia-cuda-toolkit 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
echo "fetch-ptxas: downloading nvidia-cuda-toolkit ${version:-?}" >&2
(cd "$scratch/deb" && apt-get -qq "${apt_options[@]}" download nvidia-cuda-toolkit >&2)
deb=$(ls "$scratch"/deb/nvidia-cuda-toolkit_*.deb)
mkdir -p "$scratch/unpacked"
dpkg-deb --fsys-tarfile "$deb" | tar -C "$scratch/unpacked" -x ./usr/bin/ptxas
"$scratch/unpacked/usr/bin/ptxas" --version >&2
# Into place with a rename, so an interrupted fetch never leaves a half-written ptxas behind.
mkdir -p "$cache/bin"
cp "$scratch/unpacked/usr/bin/ptxas" "$cache/bin/ptxas.tmp"
echo "nvidia-cuda-toolkit ${version:-?} (Debian $suite non-free)" > "$cache/version.txt"
mv "$cache/bin/ptxas.tmp" "$cache/bin/ptxas"
echo "$cache/bin/ptxas"
