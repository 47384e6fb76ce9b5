#!/usr/bin/env bash
# `make run`, after the build: the examples gallery (asyncio's classic
# scenarios from the Python docs, on the real clock, one delay unit = 0.2 s),
# then the headline benchmark: W1, W2a, W3 for corio and CPython asyncio,
# measured side by side in this run (bench/compare.py --headline; the asyncio
# side is bench/python, so python3 is all it needs).
#
# Usage: tools/run-main.sh BUILD
set -uo pipefail

BUILD=${1:?usage: tools/run-main.sh BUILD}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCALE=0.2
failed=""

banner() { printf '\n==== %s\n' "$*"; }

# run_example NAME WHAT: runs BUILD/examples/NAME at SCALE, after a banner.
run_example() {
  local name=$1 what=$2 exe="$BUILD/examples/$1"
  banner "example $name: $what"
  if [ ! -x "$exe" ]; then
    echo "(not built: configure with -DCORIO_BUILD_EXAMPLES=ON)"
    failed="$failed $name"
    return
  fi
  echo "\$ $exe $SCALE"
  "$exe" "$SCALE" || failed="$failed $name"
}

echo "corio examples gallery (delays scaled: one docs second = $SCALE s; sources in examples/)"
run_example say_after "say_after awaited in sequence (3 units), then as two concurrent tasks (2 units)"
run_example gather_factorials "gather of three factorial tasks A, B, C"
run_example loop_callbacks "call_soon / call_later / stop on a bare event loop"
run_example wait_for_cancel "wait_for times out a long task, which cleans up on cancellation"
run_example nested_tasks "a task creating a task, beside a periodic ticker cancelled at the end"
run_example future_handoff "a future set by one task and awaited by another"
run_example worker_pool "three workers drain twenty jobs from a queue; join, cancel, gather(settled)"
run_example event_waiter "a task waits for an event set a unit later"
run_example semaphore_limit "100 tasks, at most 10 at once under a semaphore"
run_example condition_producer_consumer "a producer and two consumers around a condition"
run_example context_per_task "a context_var holding a request id per task"
run_example loop_in_thread "a loop run forever on a worker thread, fed and stopped with call_soon_threadsafe"
run_example two_loops_pingpong "two loops on two threads hand coroutines to each other"
run_example run_in_executor "blocking work in the default pool, a custom pool, and to_thread"
run_example threads_counter "100 threads increment a counter under a threading lock"
run_example threads_condition "producer and consumer threads around a threading condition"
run_example threads_timer "timer-driven periodic work, and a timer cancelled before it fires"
run_example threads_queue_worker "a worker thread drains a queue; task_done / join"
run_example tls_echo "the streams echo server and client over TLS, with a throwaway CA; a stranger is refused"
run_example generator_grep_pipeline "Beazley's grep pipeline: send(), close() and yield from"
run_example async_generator_lines "an async generator of lines consumed with for_each, then cut by a timeout"
run_example subprocess_shell "create_subprocess_shell: a command's output and exit status through communicate"
run_example subprocess_exec_date "create_subprocess_exec(\"date\"): one line read from the child's stdout stream"
run_example subprocess_gather "three subprocesses at once under gather, each with its output and exit status"
run_example mp_spawn_context "multiprocessing: spawn and forkserver children run a function of a fresh copy of the program"
run_example mp_pipe_pingpong "multiprocessing: a child process and a ball passed back and forth over a Pipe"

banner "headline benchmark: corio vs CPython asyncio (W1 spawn, W2a yield, W3 sleepers)"
python3 "$ROOT/bench/compare.py" --build "$BUILD" --headline || failed="$failed benchmark"
echo
echo "all workloads beside every peer (Go, Tokio, Asio, uvloop, ...): make bench   (docs/benchmarks.md;"
echo "the native peers come from a checkout of the peers' implementations beside the repository)"

if [ -n "$failed" ]; then
  echo "FAILED:$failed" >&2
  exit 1
fi
