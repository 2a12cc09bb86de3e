#!/usr/bin/env bash
# A real OpenCL driver for the tests: PoCL 6.0 (OpenCL 3.0 with the generic address space ILGPU's OpenCL backend
# needs) in a Debian 13 (trixie) root made by debootstrap. Debian 12's own PoCL (3.1) lacks the generic address
# space, so ILGPU refuses it. The machine's apt setup is never touched.
#
#   bash .ci/opencl-root.sh ensure          makes the root if it is absent or broken; prints its path
#   bash .ci/opencl-root.sh run CMD [ARG…]  runs CMD in the root, in the current folder (the checkout)
#   bash .ci/opencl-root.sh describe        prints the driver and its device, e.g. "PoCL 6.0, cpu-haswell-AMD EPYC"
#
# Root: $LENET_TOOLS (else ~/.cache/lenet-tools)/opencl-root, made once. It is built in a temporary folder beside it
# and renamed into place only after PoCL has listed its device there, so a failed or killed build (network, disk
# full) leaves nothing that a later run would use. The mirror is the one the machine's apt sources name (the same
# lookup as fetch-ptxas.sh); this script names no host.
#
# `run` enters the root in a private mount namespace (and its own PID namespace): /proc, /sys and /dev (PoCL
# needs all three), the machine's dotnet folder (read-only), the current folder and ~/.cache/lenet (at the same
# paths as outside, so absolute paths in built files still hold) and an empty /tmp (tmpfs) are mounted there for
# the command only. The mounts vanish with the command, even when it is killed (SIGTERM, SIGINT or SIGHUP to this
# script, or SIGKILL to its unshare, ends every process of the namespace), so nothing outside is ever reachable
# through the cached root, and `rm -rf` of it is always safe.
#
# When the root cannot be made or entered (not root, no debootstrap, no mirror, debootstrap failed) it prints one
# line saying why, on stderr, and exits 2; other exit codes are the command's own.
set -euo pipefail

tools=${LENET_TOOLS:-$HOME/.cache/lenet-tools}
root=$tools/opencl-root
suite=trixie
packages=pocl-opencl-icd,ocl-icd-libopencl1,clinfo,libicu76,ca-certificates
# What the root was made from: a root stamped otherwise (or not at all) is rebuilt.
stamp="debootstrap minbase $suite $packages"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() { echo "opencl-root: $*" >&2; exit 2; }

# The root is usable when it carries this script's stamp and the files the tests need are there.
healthy() {
    [[ -f $root/.lenet-root && "$(cat "$root/.lenet-root")" == "$stamp" ]] \
        && [[ -x $root/usr/bin/clinfo && -e $root/etc/OpenCL/vendors/pocl.icd ]] \
        && compgen -G "$root/usr/lib/x86_64-linux-gnu/libpocl.so.*" >/dev/null \
        && compgen -G "$root/usr/lib/x86_64-linux-gnu/libOpenCL.so.*" >/dev/null
}

# enter ROOT CMD…: runs CMD in ROOT with the mounts above, in private mount and PID namespaces (as root).
enter() {
    local target=$1; shift
    local dotnet_dir
    dotnet_dir=$(dirname "$(readlink -f "$(command -v dotnet)")") || fail "no dotnet on PATH to mount into the root"
    local data=$HOME/.cache/lenet
    mkdir -p "$data"
    # --kill-child: when unshare is killed, the namespace's first process, and with it every process in the PID
    # namespace, is killed too, so the mounts go at once. unshare blocks SIGTERM and SIGINT while it waits, so this
    # script turns them (and SIGHUP) into SIGKILL for it.
    unshare --mount --propagation private --pid --fork --kill-child -- bash -c '
        set -e
        root=$1 dotnet_dir=$2 checkout=$3 data=$4; shift 4
        mount -t proc proc "$root/proc"
        mount --rbind /sys "$root/sys"
        mount --rbind /dev "$root/dev"
        mount -t tmpfs -o size=8g,mode=1777 tmpfs "$root/tmp"
        mkdir -p "$root/opt/dotnet" "$root$checkout" "$root$data"
        mount --bind "$dotnet_dir" "$root/opt/dotnet"
        mount -o remount,bind,ro "$root/opt/dotnet"
        ln -sfn /opt/dotnet/dotnet "$root/usr/local/bin/dotnet"
        mount --bind "$checkout" "$root$checkout"
        mount --bind "$data" "$root$data"
        exec chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$HOME" TERM="${TERM:-dumb}" \
            DOTNET_ROOT=/opt/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
            CI="${CI:-}" LENET_DEVICE="${LENET_DEVICE:-}" LENET_IN_OPENCL_ROOT=1 \
            bash -c "cd \"\$0\" && exec \"\$@\"" "$checkout" "$@"
    ' opencl-root "$target" "$dotnet_dir" "$PWD" "$data" "$@" &
    local child=$! status=0
    trap 'kill -KILL "$child" 2>/dev/null' TERM INT HUP
    # (wait's stderr: bash would print the whole unshare command when it reaps it killed.)
    wait "$child" 2>/dev/null || status=$?
    # A trapped signal ends the first wait early; the second reaps unshare.
    while kill -0 "$child" 2>/dev/null; do wait "$child" 2>/dev/null || status=$?; done
    trap - TERM INT HUP
    return $status
}

make_root() {
    mkdir -p "$tools"
    # Leftovers of a build that was killed: never used, removed (no mount can be inside: each build mounted
    # only in its own private namespace).
    rm -rf "$root".building.* "$root".broken.*
    local mirror
    mirror=$(bash "$here/fetch-ptxas.sh" --mirror 2>/dev/null) || fail "the machine's apt sources name no Debian mirror"
    command -v debootstrap >/dev/null || fail "debootstrap is not installed (apt-get install debootstrap)"
    local building
    building=$(mktemp -d "$root.building.XXXXXX")
    local log=$building.log
    echo "opencl-root: debootstrap $suite from $mirror into $root (once; about a minute and 900 MB)" >&2
    local t0=$SECONDS
    # debootstrap mounts /proc and /sys in the target while it installs: in a private namespace, those mounts go
    # with it even if it is killed.
    if ! unshare --mount --propagation private -- \
        debootstrap --variant=minbase --include="$packages" "$suite" "$building" "$mirror" >"$log" 2>&1; then
        local why
        why=$(grep -E '^(E|W):' "$log" | tail -n 1)
        [[ -n $why ]] || why=$(tail -n 1 "$log")
        rm -rf "$building" "$log"
        fail "debootstrap $suite failed: ${why:-no output}"
    fi
    rm -f "$log"
    # The driver must list its device in the new root before the root is used.
    local listed
    if ! listed=$( (enter "$building" clinfo -l) 2>&1) || ! grep -q 'Device' <<<"$listed"; then
        rm -rf "$building"
        fail "PoCL lists no device in the new root: $(tail -n 1 <<<"$listed")"
    fi
    echo "$stamp" > "$building/.lenet-root"
    if [[ -e $root ]]; then mv "$root" "$(mktemp -u "$root.broken.XXXXXX")"; fi
    mv "$building" "$root"
    rm -rf "$root".broken.*
    echo "opencl-root: made in $((SECONDS - t0)) s: $(grep -m 1 'Device' <<<"$listed" | sed 's/^[^A-Za-z]*//')" >&2
}

ensure() {
    [[ $(id -u) == 0 ]] || fail "needs root (debootstrap, chroot and mounts); running as $(id -un)"
    command -v unshare >/dev/null || fail "no unshare (util-linux) to make a private mount namespace"
    mkdir -p "$tools"
    # One maker at a time; a second run waits for the first and then finds the root made.
    exec 9>"$tools/opencl-root.lock"
    flock 9
    healthy || make_root
    flock -u 9
}

case ${1:-} in
    ensure)
        ensure
        echo "$root"
        ;;
    run)
        shift
        (( $# > 0 )) || fail "usage: $0 run CMD [ARG…]"
        ensure
        enter "$root" "$@"
        ;;
    describe)
        ensure
        info=$( (enter "$root" clinfo) 2>/dev/null) || fail "clinfo failed in the root"
        version=$(grep -m 1 -o 'PoCL [0-9][0-9.]*[0-9]' <<<"$info") || version="OpenCL driver"
        device=$(grep -m 1 '^ *Device Name' <<<"$info" | sed -e 's/^ *Device Name *//' -e 's/ *$//')
        echo "$version, ${device:-no device}"
        ;;
    *)
        echo "usage: $0 ensure | run CMD [ARG…] | describe" >&2
        exit 64
        ;;
esac
