#!/usr/bin/env bash
# Run the production layout on one machine: migrations, two gunicorn instances on loopback
# (127.0.0.1:8001 and :8002) and, when nginx is installed, nginx in front on 127.0.0.1:8080.
#
#   DATABASE_URL=postgresql+psycopg://... SECRET_KEY=... deploy/run.sh start
#   deploy/run.sh status      # /healthz through nginx and through each instance
#   deploy/run.sh stop
#
# Everything it starts runs from the project directory; pid files and logs go to $RUN_DIR
# (default: instance/run). A server uses systemd instead (deploy/academy-dashboard@.service and
# Debian's nginx with deploy/nginx.conf); this script is for a trial run and the load test.
set -euo pipefail

cd "$(dirname "$0")/.."
RUN_DIR=${RUN_DIR:-$PWD/instance/run}
PORTS=(8001 8002)
NGINX_PORT=8080
VENV_BIN=${VENV_BIN:-$(dirname "$(command -v gunicorn || echo .venv/bin/gunicorn)")}
export DASHBOARD_ENV=${DASHBOARD_ENV:-production}
export DASHBOARD_PROXY_HOPS=${DASHBOARD_PROXY_HOPS:-1}

wait_healthy() {  # URL: up to 20 s for /healthz to answer 200
    for _ in $(seq 1 40); do
        if curl -fsS -o /dev/null "$1/healthz" 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    echo "run.sh: $1/healthz did not answer 200" >&2
    return 1
}

start() {
    : "${DATABASE_URL:?set DATABASE_URL}" "${SECRET_KEY:?set SECRET_KEY}"
    mkdir -p "$RUN_DIR"
    "$VENV_BIN/flask" --app wsgi db upgrade
    for port in "${PORTS[@]}"; do
        GUNICORN_BIND=127.0.0.1:$port GUNICORN_PROC_NAME=academy-dashboard-$port \
            "$VENV_BIN/gunicorn" -c gunicorn.conf.py --daemon --pid "$RUN_DIR/gunicorn-$port.pid" \
            --error-logfile "$RUN_DIR/gunicorn-$port.log" --capture-output wsgi:app
    done
    for port in "${PORTS[@]}"; do wait_healthy "http://127.0.0.1:$port"; done
    if command -v nginx >/dev/null; then
        # A stand-alone nginx (its own prefix and pid file) around the site file servers use.
        cat >"$RUN_DIR/nginx-main.conf" <<CONF
worker_processes 1;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $RUN_DIR/nginx-body;
    proxy_temp_path $RUN_DIR/nginx-proxy;
    include $PWD/deploy/nginx.conf;
}
CONF
        nginx -p "$RUN_DIR" -c "$RUN_DIR/nginx-main.conf"
        wait_healthy "http://127.0.0.1:$NGINX_PORT"
        echo "run.sh: serving on http://127.0.0.1:$NGINX_PORT (nginx -> 127.0.0.1:${PORTS[0]}, :${PORTS[1]})"
    else
        echo "run.sh: nginx is not installed (apt-get install nginx); instances on ports ${PORTS[*]}"
    fi
}

stop() {
    if [[ -f "$RUN_DIR/nginx.pid" ]]; then
        nginx -p "$RUN_DIR" -c "$RUN_DIR/nginx-main.conf" -s quit || true
    fi
    for port in "${PORTS[@]}"; do
        pid_file="$RUN_DIR/gunicorn-$port.pid"
        if [[ -f "$pid_file" ]]; then
            kill -TERM "$(cat "$pid_file")" 2>/dev/null || true
        fi
    done
    for _ in $(seq 1 40); do  # up to 20 s for a graceful stop
        alive=0
        for port in "${PORTS[@]}"; do [[ -f "$RUN_DIR/gunicorn-$port.pid" ]] && alive=1; done
        [[ -f "$RUN_DIR/nginx.pid" ]] && alive=1
        [[ $alive -eq 0 ]] && break
        sleep 0.5
    done
}

status() {
    for url in "http://127.0.0.1:$NGINX_PORT" "http://127.0.0.1:${PORTS[0]}" "http://127.0.0.1:${PORTS[1]}"; do
        printf '%s/healthz: ' "$url"
        curl -sS -m 5 "$url/healthz" || printf 'no answer'
        echo
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
