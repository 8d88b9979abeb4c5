#!/usr/bin/env bash
# Drains Envoy before it stops (Kubernetes preStop; compose runs it on SIGTERM):
#  1. fail health: admin /ready (and the stats listener's /ready, the readiness probe)
#     answers 503, so the pod leaves the Service endpoints and load balancers stop sending;
#  2. wait ENDPOINT_DELAY seconds for that to propagate, then drain the listeners
#     gracefully (HTTP/1.1 "Connection: close", HTTP/2 GOAWAY on the next response);
#  3. wait until no request is in flight (an export may stream for EXPORT_TIMEOUT s, the
#     gateway's route timeout), at most MAX_WAIT seconds;
#  4. exit Envoy (POST /quitquitquit).
# The image has bash but no curl: the admin API (127.0.0.1 only) is spoken over /dev/tcp.
set -uo pipefail
ADMIN_PORT="${ADMIN_PORT:-9901}"
ENDPOINT_DELAY="${ENDPOINT_DELAY:-5}"
MAX_WAIT="${MAX_WAIT:-310}"

admin() { # METHOD PATH -> response body on stdout
  exec 3<>"/dev/tcp/127.0.0.1/${ADMIN_PORT}" || return 1
  printf '%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' \
    "$1" "$2" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}

in_flight() { # active downstream requests on the gateway listener
  admin GET '/stats?filter=^http\.gateway\.downstream_rq_active$' \
    | awk -F': ' '/downstream_rq_active/ { n += $2 } END { print n + 0 }'
}

admin POST /healthcheck/fail >/dev/null || exit 0 # Envoy already gone
echo "drain: health failed, waiting ${ENDPOINT_DELAY}s for endpoint removal"
sleep "${ENDPOINT_DELAY}"
admin POST '/drain_listeners?graceful' >/dev/null
deadline=$((SECONDS + MAX_WAIT))
while [ "$SECONDS" -lt "$deadline" ]; do
  active="$(in_flight)" || break
  [ "${active:-0}" -eq 0 ] && break
  echo "drain: ${active} requests in flight"
  sleep 1
done
echo "drain: done, stopping envoy"
admin POST /quitquitquit >/dev/null || true
