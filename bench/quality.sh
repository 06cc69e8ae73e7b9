#!/bin/sh
# quality.sh - scan quality of the fetcher's analysis on the page corpus.
#
# Builds nothing: run `cmake --preset release && cmake --build --preset
# release -j2` first. Serves ../shared/quality-corpus (or $QUALITY_CORPUS),
# read in place, on loopback and prints the confusion tables, rates and
# top reasons (bench/quality.py). Extra arguments go to quality.py
# (e.g. --list for every page's reasons).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
fetcher=${SAFEURL_FETCHER:-$src/build/release/safeurl-fetcher}
corpus=${QUALITY_CORPUS:-$src/../shared/quality-corpus}
[ -d "$corpus" ] || { echo "quality.sh: corpus '$corpus' not found: set QUALITY_CORPUS" >&2; exit 66; }
[ -x "$fetcher" ] || { echo "quality.sh: fetcher '$fetcher' not built: cmake --preset release && cmake --build --preset release -j2" >&2; exit 66; }
exec python3 "$here/quality.py" "$fetcher" "$corpus" "$@"
