#!/usr/bin/env bash
# t304: every engine request of a run fails in turn (fault injection of a
# -DSAFEURL_TEST build). Whichever fails, the run reports ERR_UNAVAILABLE
# (retry later) and leaves no container, except when the failing request is
# the removal itself: then the run's result stands, and the sweep removes
# the container. Requests of a run that exits 0: create, attach, wait,
# start, remove; of one that exits non-zero, inspect comes before remove.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_runtime.sh"

torture() { # LAST-REQUEST KIND-WHEN-REMOVE-FAILS CMD...
  local last=$1 remove_kind=$2 n out; shift 2
  for n in $(seq 1 $((last + 1))); do
    out=$(drv run --job "t304-$n" --fail-request "$n" -- "$@")
    if [ "$n" -lt "$last" ]; then
      expect_eq "$*: request $n failing is unavailable" unavailable "$(jget "$out" kind)"
      expect_eq "$*: request $n failing leaves no container" 0 "$(ours_with "t304-$n" | wc -l)"
    elif [ "$n" -eq "$last" ]; then
      expect_eq "$*: failed removal keeps the run's result" "$remove_kind" "$(jget "$out" kind)"
      expect_eq "$*: failed removal leaves the container" 1 "$(ours_with "t304-$n" | wc -l)"
      expect_eq "$*: the sweep removes it" 1 "$(jget "$(drv sweep)" removed)"
    else
      expect_eq "$*: no request failing is the normal outcome" "$remove_kind" "$(jget "$out" kind)"
    fi
  done
}
torture 5 null json '{}'
torture 6 crash exit 3 boom

expect_eq "no container of ours is left" 0 "$(ours_left)"
check "driver ran clean under the sanitizers" sanitizer_clean
finish
