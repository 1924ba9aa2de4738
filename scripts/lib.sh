# Shared shell helpers for Chorus scripts (.ci/run, bin/*). Source it; it defines functions only.
# shellcheck shell=bash

chorus_log() { printf '[chorus] %s\n' "$*" >&2; }

# Prints the major version of the java binary given as $1 (e.g. 21), or nothing if it cannot run.
chorus_java_major() {
  local version
  version=$("$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}')
  printf '%s' "${version%%.*}"
}

# Ensures JAVA_HOME points at a JDK >= 21: keeps a suitable JAVA_HOME or java on PATH, otherwise picks the
# newest JDK >= 21 from the usual install locations, otherwise installs one with apt-get (Debian/Ubuntu).
chorus_ensure_jdk() {
  local candidate major best="" best_major=0
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/javac" ]]; then
    major=$(chorus_java_major "$JAVA_HOME/bin/java")
    if [[ -n "$major" && "$major" -ge 21 ]]; then
      export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
      chorus_log "using JDK $major at $JAVA_HOME (JAVA_HOME)"
      return 0
    fi
  fi
  if command -v javac >/dev/null 2>&1; then
    candidate=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    major=$(chorus_java_major "$candidate/bin/java")
    if [[ -n "$major" && "$major" -ge 21 ]]; then
      best="$candidate"; best_major="$major"
    fi
  fi
  for candidate in /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [[ -x "$candidate/bin/javac" ]] || continue
    major=$(chorus_java_major "$candidate/bin/java")
    if [[ -n "$major" && "$major" -ge 21 && "$major" -gt "$best_major" ]]; then
      best="$candidate"; best_major="$major"
    fi
  done
  if [[ -z "$best" ]] && command -v apt-get >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    chorus_log "no JDK >= 21 found; installing one with apt-get"
    apt-get update -qq >/dev/null
    for pkg in openjdk-25-jdk-headless openjdk-21-jdk-headless; do
      if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1; then
        break
      fi
    done
    for candidate in /usr/lib/jvm/*; do
      [[ -x "$candidate/bin/javac" ]] || continue
      major=$(chorus_java_major "$candidate/bin/java")
      if [[ -n "$major" && "$major" -ge 21 && "$major" -gt "$best_major" ]]; then
        best="$candidate"; best_major="$major"
      fi
    done
  fi
  if [[ -z "$best" ]]; then
    chorus_log "Chorus needs a JDK 21 or newer and none was found. Install one (for example Temurin 21 or 25) and set JAVA_HOME to it."
    return 1
  fi
  export JAVA_HOME="$best" PATH="$best/bin:$PATH"
  chorus_log "using JDK $best_major at $JAVA_HOME"
}

chorus_port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

chorus_apt_install() {
  if ! command -v apt-get >/dev/null 2>&1 || [[ $(id -u) -ne 0 ]]; then
    chorus_log "cannot install $* here (needs apt-get as root); install it yourself"
    return 1
  fi
  chorus_log "installing $* with apt-get"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres and a database named test.
chorus_ensure_postgres() {
  if ! chorus_port_open 127.0.0.1 5432; then
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
      chorus_apt_install postgresql || return 1
      local version hba
      version=$(ls /etc/postgresql | sort -V | tail -1)
      hba="/etc/postgresql/$version/main/pg_hba.conf"
      # Tests connect as postgres without a password over loopback; allow exactly that.
      sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    fi
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    chorus_log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 60); do chorus_port_open 127.0.0.1 5432 && break; sleep 0.5; done
  fi
  if ! chorus_port_open 127.0.0.1 5432; then
    chorus_log "PostgreSQL is not listening on 127.0.0.1:5432; tests will fall back to an embedded server"
    return 0
  fi
  if command -v psql >/dev/null 2>&1; then
    if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='test'" 2>/dev/null | grep -q 1; then
      psql -h 127.0.0.1 -U postgres -d postgres -qc "create database test" 2>/dev/null \
        || chorus_log "could not create database 'test' (is trust auth enabled for 127.0.0.1?); tests will use an embedded server"
    fi
  fi
  chorus_log "PostgreSQL is up on 127.0.0.1:5432"
}

# Redis on 127.0.0.1:6379, persisting nothing.
chorus_ensure_redis() {
  if chorus_port_open 127.0.0.1 6379; then
    chorus_log "Redis is up on 127.0.0.1:6379"
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    chorus_apt_install redis-server || return 1
  fi
  chorus_log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log \
    || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 40); do chorus_port_open 127.0.0.1 6379 && break; sleep 0.25; done
  if chorus_port_open 127.0.0.1 6379; then
    chorus_log "Redis is up on 127.0.0.1:6379"
  else
    chorus_log "Redis did not start; tests will fall back to an embedded server"
  fi
}

# HAProxy for the local multi-replica launcher and its test.
chorus_ensure_haproxy() {
  command -v haproxy >/dev/null 2>&1 && return 0
  chorus_apt_install haproxy
}

# dnsmasq, which the JGroups DNS discovery test starts on a loopback port of its own.
chorus_ensure_dnsmasq() {
  command -v dnsmasq >/dev/null 2>&1 || [[ -x /usr/sbin/dnsmasq ]] && return 0
  chorus_apt_install dnsmasq-base
}

# podman (with runc) for the container image test; no Docker engine is needed.
chorus_ensure_podman() {
  command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 && return 0
  chorus_apt_install podman runc
}

# docker-compose (the standalone v1 tool parses a Compose file without an engine) for the Compose check.
chorus_ensure_compose() {
  command -v docker-compose >/dev/null 2>&1 && return 0
  chorus_apt_install docker-compose
}

# kubectl >= 1.27, whose built-in kustomize v5 renders the Kubernetes overlays offline. Debian 12's
# kubernetes-client is 1.20 (kustomize v2), too old for them, so it is not installed: the test skips and says so.
chorus_ensure_kubectl() {
  if command -v kubectl >/dev/null 2>&1; then
    return 0
  fi
  chorus_log "kubectl is not installed, and Debian's kubernetes-client (1.20) is too old for deploy/k8s"
  return 1
}
