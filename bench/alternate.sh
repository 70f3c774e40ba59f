#!/usr/bin/env bash
# Before/after figures from alternating runs: every bench COMMAND runs RUNS times in each of
# two git worktrees, A and B taking turns (A B, then B A, ...), so both trees see about the
# same machine and neither always goes first. Prints each run's headline figures (the lines
# of its standard output that match PATTERN) after the tree and run it came from.
#
#   bench/alternate.sh [-n RUNS] [-p PATTERN] TREE_A TREE_B COMMAND [COMMAND ...]
#   bench/alternate.sh -n 3 ../main . 'bench/hut_latency.py --only unlock --taps 200'
#
# RUNS defaults to 3, PATTERN (grep -E) to any line with a digit. A COMMAND is one shell
# string run from the tree's top folder; one that starts with a .py file runs with python.
# Each tree runs its own code: its folder goes first on PYTHONPATH (ahead of whichever tree
# the virtualenv was installed from) and its .venv/bin, if it has one, first on PATH.
# Every run's full output is kept in a temporary folder, named at the start. Exit status 1
# if any run failed (its lines are marked FAILED).
set -euo pipefail

runs=3
pattern='[0-9]'
usage() {
    sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
}
while getopts "n:p:h" opt; do
    case $opt in
    n) runs=$OPTARG ;;
    p) pattern=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
(($# >= 3)) || usage
[[ $runs =~ ^[1-9][0-9]*$ ]] || usage

tree_a=$(cd "$1" && pwd)
tree_b=$(cd "$2" && pwd)
shift 2
logs=$(mktemp -d "${TMPDIR:-/tmp}/alternate.XXXXXX")
failed=0

describe() { # the tree's commit, and whether it has uncommitted changes
    local commit
    commit=$(git -C "$1" rev-parse --short HEAD)
    if [[ -n $(git -C "$1" status --porcelain --untracked-files=no) ]]; then
        commit+=" + uncommitted changes"
    fi
    echo "$commit"
}

run_once() { # LABEL TREE COMMAND_NUMBER RUN COMMAND
    local label=$1 tree=$2 number=$3 run=$4 command=$5 first
    local log="$logs/cmd$number-$label-run$run"
    read -r first _ <<<"$command"
    [[ $first == *.py ]] && command="python $command"
    local path=$PATH
    [[ -x $tree/.venv/bin/python ]] && path="$tree/.venv/bin:$PATH"
    local mark=""
    if ! (cd "$tree" && PATH=$path PYTHONPATH="$tree${PYTHONPATH:+:$PYTHONPATH}" \
        bash -c "$command") >"$log.out" 2>"$log.err"; then
        mark=" FAILED (see $log.err)"
        failed=1
    fi
    grep -E -- "$pattern" "$log.out" | sed "s|^|$label run $run: |" || true
    [[ -z $mark ]] || echo "$label run $run:$mark"
}

echo "A = $tree_a ($(describe "$tree_a"))"
echo "B = $tree_b ($(describe "$tree_b"))"
echo "full output in $logs"
number=0
for command in "$@"; do
    number=$((number + 1))
    echo "== $command"
    for ((run = 1; run <= runs; run++)); do
        if ((run % 2)); then order="A B"; else order="B A"; fi
        for label in $order; do
            if [[ $label == A ]]; then tree=$tree_a; else tree=$tree_b; fi
            run_once "$label" "$tree" "$number" "$run" "$command"
        done
    done
done
exit "$failed"
