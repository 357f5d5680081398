#!/bin/sh
# One worker host: the warm parent and a stock process worker in the same container (the
# parent watches each launcher by pid, so they share a PID namespace). The parent is
# restarted if it ever exits; until it is back, runs start cold and say so.
set -eu
socket="${REMEDIATE_WARM_SOCKET:?REMEDIATE_WARM_SOCKET is not set}"
(
    while true; do
        python -m remediate.warm.parent --socket "$socket" || true
        sleep 1
    done
) &
tries=0
until [ -S "$socket" ] || [ "$tries" -ge 120 ]; do
    tries=$((tries + 1))
    sleep 0.5
done
exec prefect worker start --pool remediate --type process --limit 8 --prefetch-seconds 1
