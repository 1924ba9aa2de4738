#!/usr/bin/env bash
# bin/chorus cluster: several replicas of the reference server on loopback behind HAProxy, so a newcomer can
# see high availability on one machine. Everything it starts is recorded under $CHORUS_CLUSTER_DIR
# (default target/chorus-cluster) and `down` stops exactly that, nothing else.

cluster_dir() { echo "${CHORUS_CLUSTER_DIR:-$PWD/target/chorus-cluster}"; }

cluster_wait_ready() { # port, seconds
  local port=$1 deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready"; then return 0; fi
    sleep 0.3
  done
  return 1
}

# A base port P with P..P+count-1 all free on loopback (tests and benchmarks use --port auto).
cluster_free_ports() { # count
  local count=$1 base i busy
  for _ in $(seq 1 100); do
    base=$((20000 + RANDOM % 20000)); busy=0
    for ((i = 0; i < count; i++)); do
      if chorus_port_open 127.0.0.1 $((base + i)); then busy=1; break; fi
    done
    ((busy == 0)) && { echo "$base"; return 0; }
  done
  return 1
}

# JGroups on loopback: each replica binds a port of its own and finds the others by TCP discovery with the full
# list (one shared CLUSTER_PORT lets only the first bind; multicast leaves each replica alone in many setups).
cluster_mesh_env() { # index
  local i=$1 j hosts=""
  for ((j = 1; j <= REPLICAS; j++)); do hosts+="${hosts:+,}127.0.0.1[$((MESH_PORT + j - 1))]"; done
  export CLUSTER_PORT=$((MESH_PORT + i - 1)) CLUSTER_DISCOVERY=TCP CLUSTER_BIND_ADDRESS=127.0.0.1
  export CLUSTER_INITIAL_HOSTS="$hosts"
}

cluster_start_replica() { # index
  local dir i=$1 port
  dir=$(cluster_dir)
  # shellcheck source=/dev/null
  source "$dir/cluster.env"
  port=$((BASE_PORT + i))
  (
    export PORT=$port CHORUS_HTTP_HOST=127.0.0.1 CHORUS_REPLICA_NAME="replica-$i" CHORUS_BACKPLANE="$BACKPLANE"
    [[ "$BACKPLANE" == jgroups ]] && cluster_mesh_env "$i"
    export DATABASE_URL="$DB_URL" CHORUS_CHANNEL="$CHANNEL" CHORUS_STORAGE_SCHEMA="$SCHEMA" CHORUS_DRAIN_DELAY="$DRAIN_DELAY"
    export CHORUS_CLIENTS_FILE="$dir/clients.json" CHORUS_MAX_INSTANCES="${CHORUS_MAX_INSTANCES:-$REPLICAS}"
    [[ -f "$dir/key.pem" ]] && export CHORUS_JWT_PRIVATE_KEY_FILE="$dir/key.pem"
    # One secret per cluster, shared by its replicas: networked backplanes refuse to run unsigned.
    CHORUS_CLUSTER_SECRET=$(cat "$dir/cluster.secret") && export CHORUS_CLUSTER_SECRET
    [[ "$BACKPLANE" == redis ]] && export REDIS_URL="$REDIS"
    nohup java ${CHORUS_JAVA_OPTS:--Xmx256m} -jar "$PWD/chorus-server/target/chorus-server.jar" \
      >"$dir/replica-$i.log" 2>&1 &
    echo $! >"$dir/replica-$i.pid"
  )
  if ! cluster_wait_ready "$port" 90; then
    chorus_log "replica-$i did not become ready on port $port; see $dir/replica-$i.log"
    return 1
  fi
  chorus_log "replica-$i ready on http://127.0.0.1:$port"
}

cluster_stop_replica() { # index
  cluster_term_replica "$1"
  cluster_await_replica "$1"
}

# SIGTERM: the replica fails readiness, drains and exits on its own.
cluster_term_replica() { # index
  local dir pid i=$1
  dir=$(cluster_dir)
  [[ -f "$dir/replica-$i.pid" ]] || return 0
  pid=$(cat "$dir/replica-$i.pid")
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; fi
}

# Waits up to 60 s for a replica sent SIGTERM to exit, then kills it.
cluster_await_replica() { # index
  local dir pid i=$1
  dir=$(cluster_dir)
  [[ -f "$dir/replica-$i.pid" ]] || return 0
  pid=$(cat "$dir/replica-$i.pid")
  if kill -0 "$pid" 2>/dev/null; then
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$dir/replica-$i.pid"
}

cluster_haproxy_config() {
  local dir=$1 i port
  # shellcheck source=/dev/null
  source "$dir/cluster.env"
  {
    cat <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
  option redispatch
  retries 3
  retry-on conn-failure empty-response 503
frontend chorus
  bind 127.0.0.1:$BASE_PORT
  acl websocket path_beg /ws/
  use_backend sticky if websocket
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /health/ready
  http-check expect status 200
  default-server inter 500ms fall 1 rise 2
CFG
    for ((i = 1; i <= REPLICAS; i++)); do
      port=$((BASE_PORT + i)); echo "  server replica-$i 127.0.0.1:$port check"
    done
    cat <<CFG
backend sticky
  balance roundrobin
  cookie CHORUS_REPLICA insert indirect nocache
  option httpchk GET /health/ready
  http-check expect status 200
  default-server inter 500ms fall 1 rise 2
CFG
    for ((i = 1; i <= REPLICAS; i++)); do
      port=$((BASE_PORT + i)); echo "  server replica-$i 127.0.0.1:$port check cookie replica-$i"
    done
  } >"$dir/haproxy.cfg"
}

cluster_up() {
  local replicas=3 backplane=postgres port=8080 dir secret hash mesh="" count i
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --replicas) replicas=$2; shift 2 ;;
      --backplane) backplane=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      *) chorus_log "unknown option '$1'"; return 2 ;;
    esac
  done
  [[ "$replicas" =~ ^[1-9][0-9]?$ ]] || { chorus_log "--replicas must be 1 to 99, not '$replicas'"; return 2; }
  case "$backplane" in postgres|redis|jgroups) ;; *) chorus_log "--backplane must be postgres, redis or jgroups"; return 2 ;; esac
  # HAProxy and the replicas' HTTP ports; on jgroups also one mesh port per replica, right after them with
  # --port auto, else from CLUSTER_PORT (default 7800) up.
  count=$((replicas + 1))
  [[ "$backplane" == jgroups ]] && count=$((2 * replicas + 1))
  if [[ "$port" == auto ]]; then
    port=$(cluster_free_ports "$count") || { chorus_log "no free range of $count ports"; return 1; }
    [[ "$backplane" == jgroups ]] && mesh=$((port + replicas + 1))
  fi
  [[ "$port" =~ ^[0-9]+$ ]] || { chorus_log "--port must be a port or 'auto', not '$port'"; return 2; }
  if [[ "$backplane" == jgroups ]]; then
    mesh=${mesh:-${CLUSTER_PORT:-7800}}
    [[ "$mesh" =~ ^[0-9]+$ ]] || { chorus_log "CLUSTER_PORT must be a port, not '$mesh'"; return 2; }
    for ((i = 0; i < replicas; i++)); do
      if chorus_port_open 127.0.0.1 $((mesh + i)); then
        chorus_log "JGroups port $((mesh + i)) is in use; set CLUSTER_PORT to the first of $replicas free ports"
        return 1
      fi
    done
  fi
  dir=$(cluster_dir)
  if compgen -G "$dir/*.pid" >/dev/null; then
    chorus_log "a cluster is already up (state in $dir); run 'bin/chorus cluster down' first"
    return 1
  fi
  chorus_ensure_jdk
  build_if_stale
  chorus_ensure_postgres || return 1
  [[ "$backplane" == redis ]] && { chorus_ensure_redis || return 1; }
  chorus_ensure_haproxy || return 1
  mkdir -p "$dir"
  secret=$(openssl rand -base64 32 | tr -d '/+=\n')
  hash=$(printf %s "$secret" | sha256sum | cut -d' ' -f1)
  printf '[{"id":"demo","secretHash":"sha256:%s","user":"demo","tenant":"demo","roles":["reader","writer","admin","operator","agent"],"agents":["*"]}]\n' \
    "$hash" >"$dir/clients.json"
  printf %s "$secret" >"$dir/demo.secret"
  chmod 600 "$dir/demo.secret"
  (umask 077 && printf %s "${CHORUS_CLUSTER_SECRET:-$(openssl rand -base64 32)}" >"$dir/cluster.secret")
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem" 2>/dev/null \
    || chorus_log "openssl could not make a key: each replica generates its own (tokens valid on one replica only)"
  cat >"$dir/cluster.env" <<ENV
REPLICAS=$replicas
BACKPLANE=$backplane
BASE_PORT=$port
DB_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
REDIS=${REDIS_URL:-redis://127.0.0.1:6379}
CHANNEL=${CHORUS_CHANNEL:-chorus_local}
SCHEMA=${CHORUS_STORAGE_SCHEMA:-chorus_local}
DRAIN_DELAY=${CHORUS_DRAIN_DELAY:-2s}
MESH_PORT=$mesh
ENV
  for ((i = 1; i <= replicas; i++)); do
    cluster_start_replica "$i" || return 1
  done
  cluster_haproxy_config "$dir"
  haproxy -D -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid" || { chorus_log "HAProxy did not start"; return 1; }
  cluster_wait_ready "$port" 30 || { chorus_log "HAProxy on port $port does not answer"; return 1; }
  cat <<INFO
Chorus cluster up: $replicas replicas on the $backplane backplane behind HAProxy.
  API and WebSocket:  http://127.0.0.1:$port   (cookie affinity on /ws/*, round robin elsewhere)
  replicas:           http://127.0.0.1:$((port + 1)) ... http://127.0.0.1:$((port + replicas))${mesh:+
  JGroups mesh:       127.0.0.1:$mesh ... 127.0.0.1:$((mesh + replicas - 1)) (TCP discovery)}
  client:             demo / $secret
  token:              curl -s -d grant_type=client_credentials -d client_id=demo -d client_secret=$secret http://127.0.0.1:$port/oauth/token
  logs and state:     $dir
INFO
}

cluster_status() {
  local dir i port pid state
  dir=$(cluster_dir)
  [[ -f "$dir/cluster.env" ]] || { echo "no cluster (state dir $dir)"; return 0; }
  # shellcheck source=/dev/null
  source "$dir/cluster.env"
  for ((i = 1; i <= REPLICAS; i++)); do
    port=$((BASE_PORT + i)); pid=$(cat "$dir/replica-$i.pid" 2>/dev/null || echo -)
    if [[ "$pid" != - ]] && kill -0 "$pid" 2>/dev/null; then
      state=$(curl -fs -o /dev/null -w 'ready' "http://127.0.0.1:$port/health/ready" || echo 'not ready')
    else
      state=stopped
    fi
    echo "replica-$i  http://127.0.0.1:$port  pid $pid  $state"
  done
  if [[ -f "$dir/haproxy.pid" ]] && kill -0 "$(cat "$dir/haproxy.pid")" 2>/dev/null; then
    echo "haproxy    http://127.0.0.1:$BASE_PORT  pid $(cat "$dir/haproxy.pid")"
  else
    echo "haproxy    stopped"
  fi
}

cluster_restart() {
  local dir i
  dir=$(cluster_dir)
  [[ -f "$dir/cluster.env" ]] || { chorus_log "no cluster to restart"; return 1; }
  # shellcheck source=/dev/null
  source "$dir/cluster.env"
  chorus_ensure_jdk
  for ((i = 1; i <= REPLICAS; i++)); do
    chorus_log "restarting replica-$i"
    cluster_stop_replica "$i"
    cluster_start_replica "$i" || return 1
    # HAProxy needs two good checks (rise 2) before it sends traffic again.
    sleep 1.5
  done
}

cluster_down() {
  local dir i
  dir=$(cluster_dir)
  [[ -f "$dir/cluster.env" ]] || { echo "no cluster (state dir $dir)"; return 0; }
  # shellcheck source=/dev/null
  source "$dir/cluster.env"
  if [[ -f "$dir/haproxy.pid" ]]; then
    kill "$(cat "$dir/haproxy.pid")" 2>/dev/null || true
    rm -f "$dir/haproxy.pid"
  fi
  # All at once: nothing is left to keep available, so their drain delays need not add up.
  for ((i = 1; i <= REPLICAS; i++)); do cluster_term_replica "$i"; done
  for ((i = 1; i <= REPLICAS; i++)); do cluster_await_replica "$i"; done
  rm -f "$dir/cluster.env"
  chorus_log "cluster stopped (logs kept in $dir)"
}

chorus_cluster() {
  local command=${1:-status}
  shift || true
  case "$command" in
    up) cluster_up "$@" ;;
    down) cluster_down ;;
    status) cluster_status ;;
    restart) cluster_restart ;;
    *) chorus_log "unknown cluster command '$command' (up, down, status, restart)"; return 2 ;;
  esac
}
