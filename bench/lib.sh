# bench/lib.sh: what bench/run.sh and bench/soak.sh share; sourced. The
# sourcing script sets `me` (its name in messages) and, before calling
# kafka_sh, `kport` and `kstate` (its broker's port and state directory).

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/bench
build=$root/build-bench
tools=$build/bench-tools
hb=$build/hookbridge

say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() {
        say "error: $*"
        exit 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# tests/kafka/kafka.sh for this script's own broker
kafka_sh() {
        env -u HOOKBRIDGE_TEST_BROKERS HB_KAFKA_PORT="$kport" \
                HB_KAFKA_CONTROLLER_PORT=$((kport + 1)) \
                HB_KAFKA_STATE="$kstate" "$root/tests/kafka/kafka.sh" "$@"
}

# build_all LOG: hookbridge (Release) in $build, the helpers in $tools;
# on failure the log's tail and exit
build_all() {
        say "building hookbridge (Release) in $build and the bench tools"
        if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DHB_TESTS=OFF &&
                cmake --build "$build" -j2 --target hookbridge &&
                cmake -S "$bench" -B "$tools" -DCMAKE_BUILD_TYPE=Release &&
                cmake --build "$tools" -j2; } >"$1" 2>&1; then
                tail -n 30 "$1" >&2
                die "build failed (log: $1)"
        fi
}
