#!/usr/bin/env bash
# Local infrastructure for tests, without Docker:
#   - Redis on 127.0.0.1:6379 (an already running one is used as is; else redis-server is started)
#   - a real single-node Apache Kafka 3.9 broker in KRaft mode (broker+controller in one JVM),
#     run from its jars on Maven Central (fetched with scripts/kafka/pom.xml, cached in .infra/).
#
# Usage: bash scripts/infra.sh up|down|status|kafka-start|kafka-stop
#   up           start whatever is not running, wait until ready, write .infra/env
#   down         stop Kafka, and Redis only if this script started it
#   kafka-stop   stop only the broker, keeping its data (fault tests)
#   kafka-start  start only the broker again and wait until it is ready
#   status       print whether each service is up (exit 1 if one is not)
#
# Environment: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), REDIS_PORT (6379),
#              KAFKA_START_TIMEOUT seconds (90), KAFKA_HEAP_OPTS (-Xmx512m -Xms256m).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INFRA="$ROOT/.infra"
KAFKA_SRC="$ROOT/scripts/kafka"      # versioned inputs: pom.xml, server.properties, log4j files
KDIR="$INFRA/kafka"                  # generated state: libs/, data/, config, log, pid
LIBS="$KDIR/libs"
KDATA="$KDIR/data"
KPROPS="$KDIR/server.properties"
KLOG="$KDIR/kafka.log"
KPID="$KDIR/kafka.pid"
RDIR="$INFRA/redis"
RPID="$RDIR/redis.pid"
ROURS="$RDIR/started-by-infra"       # present only while a Redis started by this script runs

KAFKA_HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
REDIS_HOST=127.0.0.1
REDIS_PORT="${REDIS_PORT:-6379}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"

log() { echo "[infra] $*" >&2; }
die() { echo "[infra] ERROR: $*" >&2; exit 1; }

# True when something accepts TCP connections on host:port (bash /dev/tcp, no nc needed).
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# Serialize mutating commands: two test runs calling `up` at once must not start two brokers.
# The lock fd (9) is closed for every daemon we start, or the daemon would hold the lock forever.
take_lock() {
  mkdir -p "$INFRA"
  exec 9>"$INFRA/infra.lock"
  flock -w 600 9 || die "another scripts/infra.sh is still running (lock $INFRA/infra.lock)"
}

# ---------------------------------------------------------------- Redis

redis_ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(timeout 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else # no client installed: speak RESP by hand
    timeout 3 bash -c "exec 3<>/dev/tcp/$REDIS_HOST/$REDIS_PORT && printf 'PING\r\n' >&3 && read -r l <&3 && [[ \$l == +PONG* ]]" 2>/dev/null
  fi
}

redis_up() {
  if redis_ping; then
    log "redis: already answering on $REDIS_HOST:$REDIS_PORT"
    return
  fi
  command -v redis-server >/dev/null 2>&1 ||
    die "redis: nothing answers on $REDIS_HOST:$REDIS_PORT and redis-server is not installed (apt-get install redis-server)"
  mkdir -p "$RDIR"
  log "redis: starting redis-server on $REDIS_HOST:$REDIS_PORT"
  # No persistence: test data is throwaway. pid/log/dir under .infra so nothing lands elsewhere.
  redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$RDIR" --pidfile "$RPID" --logfile "$RDIR/redis.log" 9>&-
  touch "$ROURS"
  local i
  for i in $(seq 1 50); do
    redis_ping && { log "redis: ready"; return; }
    sleep 0.2
  done
  tail -n 20 "$RDIR/redis.log" >&2 2>/dev/null || true
  die "redis: started but not answering PING after 10 s"
}

redis_down() {
  if [ ! -f "$ROURS" ]; then
    log "redis: not started by this script, leaving it alone"
    return
  fi
  local pid
  pid="$(cat "$RPID" 2>/dev/null || true)"
  if [ -n "$pid" ] && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
    log "redis: stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$ROURS" "$RPID"
}

# ---------------------------------------------------------------- Kafka

# Prints the broker pid if the pid file names a live kafka.Kafka process (guards against pid reuse).
kafka_pid() {
  local pid
  pid="$(cat "$KPID" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    grep -qa 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# Fetch the broker's jars once; fetch again only when scripts/kafka/pom.xml changes.
kafka_fetch() {
  local stamp want
  want="$(sha256sum "$KAFKA_SRC/pom.xml" | cut -d' ' -f1)"
  stamp="$LIBS/.pom.sha256"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  command -v mvn >/dev/null 2>&1 || die "kafka: mvn not found (Maven is needed once to fetch the broker jars)"
  log "kafka: fetching broker jars from Maven Central (first run only)"
  # Copy into a temp dir and swap, so an interrupted download never looks complete.
  rm -rf "$LIBS.tmp"
  # Maven's output goes to stderr (stdout of `up` is only the env lines), minus the colour codes
  # Maven 3.8 prints even in batch mode.
  mvn -q -B -Dstyle.color=never -f "$KAFKA_SRC/pom.xml" -Dmaven.repo.local="$INFRA/m2" \
    dependency:copy-dependencies -DoutputDirectory="$LIBS.tmp" -DincludeScope=runtime 9>&- 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' >&2 ||
    die "kafka: maven could not fetch the broker jars"
  ls "$LIBS.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka: maven ran but kafka_2.13 jar is missing"
  echo "$want" >"$LIBS.tmp/.pom.sha256"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
}

# JVM for one-shot tools (storage format): quiet logging, small heap.
kafka_tool() {
  java -Xmx256m -Dlog4j.configuration="file:$KAFKA_SRC/tools-log4j.properties" \
    -cp "$LIBS/*" "$@" 9>&-
}

# server.properties = the versioned template + what depends on this checkout and the ports.
kafka_config() {
  mkdir -p "$KDIR"
  {
    cat "$KAFKA_SRC/server.properties"
    echo
    echo "# ---- generated by scripts/infra.sh ----"
    echo "listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT"
    echo "advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT"
    echo "controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT"
    echo "log.dirs=$KDATA"
  } >"$KPROPS"
}

# KRaft needs its log dir formatted with a cluster id once; the id is kept so data survives restarts.
kafka_format() {
  [ -f "$KDATA/meta.properties" ] && return
  local id
  id="$(cat "$KDIR/cluster.id" 2>/dev/null || true)"
  if [ -z "$id" ]; then
    # A Kafka Uuid is 16 random bytes in URL-safe base64 without padding (what random-uuid prints);
    # like Kafka's Uuid.randomUuid, never one starting with '-', which the format tool would take
    # for an option ("argument --cluster-id/-t: expected one argument", 1 fresh start in 64).
    id="-"
    while [ "${id#-}" != "$id" ]; do id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"; done
    echo "$id" >"$KDIR/cluster.id"
  fi
  log "kafka: formatting $KDATA (cluster id $id)"
  kafka_tool kafka.tools.StorageTool format -t "$id" -c "$KPROPS" --ignore-formatted >/dev/null ||
    die "kafka: storage format failed"
}

# Ready = the JVM is alive, the listener accepts connections, and the broker logged that startup
# finished (in KRaft that line comes after the broker is unfenced, i.e. it serves clients).
kafka_wait_ready() {
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$KLOG" >&2 || true
      die "kafka: broker process $pid exited during startup (log: $KLOG)"
    fi
    if port_open "$KAFKA_HOST" "$KAFKA_PORT" && grep -q 'Kafka Server started' "$KLOG" 2>/dev/null; then
      log "kafka: ready on $KAFKA_HOST:$KAFKA_PORT (pid $pid)"
      return
    fi
    sleep 0.5
  done
  tail -n 40 "$KLOG" >&2 || true
  die "kafka: not ready after ${KAFKA_START_TIMEOUT}s (log: $KLOG)"
}

kafka_start() {
  local pid
  if pid="$(kafka_pid)"; then
    if [ "$(cat "$KDIR/port" 2>/dev/null || true)" != "$KAFKA_PORT" ]; then
      log "kafka: running on another port, restarting on $KAFKA_PORT"
      kafka_stop
    elif port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
      log "kafka: already running on $KAFKA_HOST:$KAFKA_PORT (pid $pid)"
      return
    else # alive but not listening yet: another `up` (or a crash loop) is mid-start
      kafka_wait_ready "$pid"
      return
    fi
  fi
  if port_open "$KAFKA_HOST" "$KAFKA_PORT" || port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT"; then
    die "kafka: port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT is taken by a process this checkout did not start
  (another checkout's broker? stop it with its own 'scripts/infra.sh down', or pick other ports: KAFKA_PORT=...)
$(ss -ltnp 2>/dev/null | grep -E ":($KAFKA_PORT|$KAFKA_CONTROLLER_PORT)\b" || true)"
  fi
  command -v java >/dev/null 2>&1 || die "kafka: java not found (Java 17 is needed)"
  kafka_fetch
  kafka_config
  kafka_format
  # Fresh log per start so the readiness check never sees the previous run's "started" line.
  [ -f "$KLOG" ] && mv -f "$KLOG" "$KLOG.prev"
  log "kafka: starting broker on $KAFKA_HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
  # setsid+nohup: the broker outlives this script and a Ctrl-C in the terminal that ran it.
  # Without job control the child is no group leader, so setsid execs in place and $! is the JVM.
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS holds several flags
  setsid nohup java $KAFKA_HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$KAFKA_SRC/log4j.properties" -Dkafka.logs.dir="$KDIR" \
    -cp "$LIBS/*" kafka.Kafka "$KPROPS" \
    </dev/null >"$KLOG" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$KPID"
  echo "$KAFKA_PORT" >"$KDIR/port"
  kafka_wait_ready "$pid"
}

# SIGTERM lets the broker shut down cleanly (no log recovery next start); SIGKILL after 30 s.
kafka_stop() {
  local pid i
  if ! pid="$(kafka_pid)"; then
    log "kafka: not running"
    rm -f "$KPID"
    return
  fi
  log "kafka: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "kafka: still alive after 30 s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$KPID"
  log "kafka: stopped"
}

# ---------------------------------------------------------------- commands

write_env() {
  mkdir -p "$INFRA"
  printf 'KAFKA_BROKERS=%s\nREDIS_URL=%s\n' \
    "$KAFKA_HOST:$KAFKA_PORT" "redis://$REDIS_HOST:$REDIS_PORT" >"$INFRA/env"
  cat "$INFRA/env"
}

status() {
  local rc=0 pid
  if redis_ping; then
    echo "redis: up on $REDIS_HOST:$REDIS_PORT$([ -f "$ROURS" ] && echo ' (started by infra.sh)')"
  else
    echo "redis: down"; rc=1
  fi
  if pid="$(kafka_pid)" && port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    echo "kafka: up on $KAFKA_HOST:$KAFKA_PORT (pid $pid)"
  elif pid="$(kafka_pid)"; then
    echo "kafka: starting or unhealthy (pid $pid, port $KAFKA_PORT closed)"; rc=1
  elif port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    echo "kafka: port $KAFKA_PORT open, but not a broker started by this checkout"; rc=1
  else
    echo "kafka: down"; rc=1
  fi
  return $rc
}

case "${1:-}" in
  up)          take_lock; redis_up; kafka_start; write_env ;;
  down)        take_lock; kafka_stop; redis_down ;;
  kafka-start) take_lock; kafka_start ;;
  kafka-stop)  take_lock; kafka_stop ;;
  status)      status ;;
  *) echo "usage: $0 up|down|status|kafka-start|kafka-stop" >&2; exit 2 ;;
esac
