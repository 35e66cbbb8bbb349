#!/usr/bin/env bash
# Build the libFuzzer harnesses of tests/fuzz/ with clang, ASan and UBSan:
# each links only the product sources it needs, compiled with the same
# include directories, definitions and warnings as CMakeLists.txt.
#
#   tests/fuzz/build.sh [OUTDIR]     (default: build-fuzz; $CC: clang)
#
# Needs clang and libclang-rt-14-dev (the libFuzzer runtime) besides the
# libraries of hookbridge itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${1:-$root/build-fuzz}
cc=${CC:-clang}
case "$cc" in *clang*) ;; *) cc=clang ;; esac

if ! command -v "$cc" >/dev/null; then
        echo "fuzz: $cc not found; apt-get install clang libclang-rt-14-dev" >&2
        exit 1
fi

version=$(sed -n 's/^project(hookbridge VERSION \([0-9.]*\).*/\1/p' \
        CMakeLists.txt)
pkgs="rdkafka libcurl json-c libconfig libmicrohttpd libcrypto"
# shellcheck disable=SC2086
pc_cflags=$(pkg-config --cflags $pkgs)
# shellcheck disable=SC2086
pc_libs=$(pkg-config --libs $pkgs)

cflags=(-std=c11 -g -O1 -fno-omit-frame-pointer
        -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
        -Wno-missing-field-initializers
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
        "-DHB_VERSION=\"$version\""
        -Icommon -Iconfig -Iconsumers -Iproducers -Iworker -Itests/fuzz)
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)

# the transformer (wk_transform.h) and what it uses
transform="common/hb_time.c common/hb_http.c common/hb_types.c common/hb_fmt.c
           worker/wk_json.c worker/wk_mapping.c worker/wk_event.c
           worker/wk_render.c worker/wk_jdoc.c"
# harness -> the product sources it links
declare -A needs=(
        [fuzz_transform]="$transform"
        [fuzz_url]="$transform producers/wh_guard.c config/*.c
                    common/hb_sched.c common/hb_base64.c"
        [fuzz_retry_after]="producers/wh_retry.c"
        [fuzz_sign]="producers/wh_sign.c common/hb_base64.c common/hb_fmt.c"
        [fuzz_config]="config/*.c common/hb_sched.c common/hb_base64.c
                       producers/wh_endpoint.c
                       producers/wh_sign.c producers/wh_guard.c
                       $transform"
        [fuzz_hook]="worker/wk_hook.c worker/wk_seal.c config/*.c
                     common/hb_sched.c common/hb_base64.c $transform"
)
harnesses=(fuzz_transform fuzz_url fuzz_retry_after fuzz_sign fuzz_config
           fuzz_hook)

mkdir -p "$out/obj"
# Compile a source to an object when it is newer than the object.
obj() {
        local src=$1 o
        o="$out/obj/$(echo "${src%.c}" | tr / _).o"
        if [ ! -f "$o" ] || [ "$src" -nt "$o" ] ||
                [ tests/fuzz/build.sh -nt "$o" ] ||
                [ -n "$(find common config consumers producers worker tests/fuzz \
                        -name '*.h' -newer "$o" -print -quit)" ]; then
                # shellcheck disable=SC2086
                "$cc" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link \
                        $pc_cflags -c "$src" -o "$o"
        fi
        echo "$o"
}

# A plugin that says when it is loaded (fuzz_config checks that loading a
# configuration never loads it).
if [ ! -f "$out/canary_plugin.so" ] ||
        [ tests/unit/canary_plugin.c -nt "$out/canary_plugin.so" ]; then
        "$cc" -shared -fPIC -O1 -Wall -Wextra -Werror \
                tests/unit/canary_plugin.c -o "$out/canary_plugin.so"
fi

for h in "${harnesses[@]}"; do
        objs=("$(obj tests/fuzz/fz_util.c)" "$(obj "tests/fuzz/$h.c")")
        for src in ${needs[$h]}; do
                objs+=("$(obj "$src")")
        done
        # shellcheck disable=SC2086
        "$cc" "${san[@]}" -fsanitize=fuzzer "${objs[@]}" -o "$out/$h" \
                $pc_libs -lpthread -lm
        echo "fuzz: built $out/$h"
done
