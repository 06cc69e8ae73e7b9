#!/usr/bin/env bash
# grep_secrets.sh DIR: fail (exit 1) when any log file under DIR holds one
# of the secrets the tests use (tests/integration/secrets.txt: Redis
# passwords, database tokens, URL credentials and query values), naming
# each file and secret found; exit 0 when none does.
set -euo pipefail
dir=$1
list=$(dirname "$0")/secrets.txt
[ -d "$dir" ] || { echo "grep_secrets: '$dir' is not a directory" >&2; exit 2; }
found=$(grep -rlF -f "$list" "$dir" || true)
if [ -n "$found" ]; then
  echo "grep_secrets: a test secret appears in $(echo "$found" | wc -l) log file(s):" >&2
  while IFS= read -r f; do
    echo "  $f: $(grep -oF -f "$list" "$f" | sort -u | paste -sd, -)" >&2
  done <<<"$found"
  exit 1
fi
echo "grep_secrets: no test secret in $(find "$dir" -type f | wc -l) log file(s)"
