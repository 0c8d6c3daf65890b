#!/usr/bin/env bash
# Ask a running citeqa server a question; prints cited passages as plain text.
#   scripts/ask.sh "What did Bolton say about the talks?" [top_k]
# CITEQA_URL (default http://127.0.0.1:8000) points it elsewhere; CITEQA_API_KEY is sent if set.
set -euo pipefail

if [ $# -lt 1 ] || [ -z "${1// }" ]; then
  echo "usage: $(basename "$0") \"question\" [top_k]" >&2
  exit 2
fi
question=$1
top_k=${2:-5}
url=${CITEQA_URL:-http://127.0.0.1:8000}
url=${url%/}

auth=()
if [ -n "${CITEQA_API_KEY:-}" ]; then
  auth=(-H "Authorization: Bearer ${CITEQA_API_KEY}")
fi

body=$(mktemp)
trap 'rm -f "$body"' EXIT
status=$(curl -sS -G -o "$body" -w '%{http_code}' --max-time 60 \
  -H 'Accept: text/plain' "${auth[@]+"${auth[@]}"}" \
  --data-urlencode "q=${question}" --data-urlencode "top_k=${top_k}" \
  "${url}/v1/query" 2>/dev/null) || {
  echo "ask.sh: cannot reach citeqa at ${url} (is it running? start it with 'make run', or set CITEQA_URL)" >&2
  exit 3
}
if [ "$status" != "200" ]; then
  msg=$(head -c 500 "$body" | tr '\n' ' ')
  echo "ask.sh: the server answered HTTP ${status}: ${msg}" >&2
  exit 4
fi
cat "$body"
