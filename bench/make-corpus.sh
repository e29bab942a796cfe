#!/usr/bin/env bash
# Builds a plain-text benchmark corpus of about SIZE_MB megabytes from text every Debian machine has:
# package changelogs and copyright files, manual pages (as troff source) and Python's standard library.
# Deterministic for a given machine image (files are taken in sorted order). Usage: make-corpus.sh OUT [SIZE_MB]
set -euo pipefail
out=$1
mkdir -p "$(dirname "$out")"
size_mb=${2:-83}
limit=$((size_mb * 1000 * 1000))
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  find /usr/share/doc -name 'changelog*.gz' -o -name 'NEWS*.gz' | sort | xargs -r zcat 2>/dev/null
  find /usr/share/doc -name copyright | sort | xargs -r cat 2>/dev/null
  find /usr/share/man -name '*.gz' | sort | xargs -r zcat 2>/dev/null
  find /usr/lib/python3* -name '*.py' | sort | xargs -r cat 2>/dev/null
} | head -c "$limit" > "$tmp" || true
# Keep valid UTF-8 only (HF tokenizers refuses invalid text files).
iconv -f UTF-8 -t UTF-8 -c "$tmp" > "$out"
echo "$out: $(wc -c < "$out") bytes, $(wc -l < "$out") lines"
