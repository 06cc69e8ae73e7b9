#!/usr/bin/env bash
# t801: the soak suite's short form (tests/soak/soak.sh): a few hundred
# scans on six workers and two queues while workers are killed and
# stopped, Redis is killed or shut down and restarted, and the database is
# locked; then every invariant of docs/reliability.md is checked and
# printed. The Docker daemon restart runs only in the long form
# (SOAK_DOCKERD=1): the daemon is shared with the tests running beside it.
export SOAK_SCANS=${SOAK_SCANS:-300} SOAK_WAVES=${SOAK_WAVES:-6}
exec bash "$(dirname "$0")/../soak/soak.sh"
