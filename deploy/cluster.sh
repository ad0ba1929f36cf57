#!/usr/bin/env bash
# A local cluster of real processes: N silos of the published `platform` on loopback, Azure Table clustering on one
# Azurite, Hangfire on PostgreSQL, shared checkpoint and ingest folders.
#   deploy/cluster.sh up N     publish (when sources changed), start Azurite if needed and N silos, wait until all are healthy
#   deploy/cluster.sh status   each silo: pid, ports, alive, /healthz
#   deploy/cluster.sh down     stop exactly what `up` started (SIGTERM, SIGKILL after a grace period); no process or port left
# Environment (all optional):
#   CLUSTER_STATE      state folder: logs, pids, Azurite data, checkpoints, ingest outputs (default .state/cluster)
#   CLUSTER_PUBLISH    where `platform` is published (default .state/cluster/publish)
#   CLUSTER_BASE_PORT  Azurite on BASE..BASE+2 (blob, queue, table); silo i on BASE+10i (silo), +1 (gateway), +2 (web) (default 21100)
#   CLUSTER_DEVICES    devices per silo, comma-separated; `none`, `cpu`, `cuda:0`, or `cpu+cpu` for several (default: none,cpu,cpu,...)
#   CLUSTER_POSTGRES   Hangfire's PostgreSQL connection string (default: deploy/postgres.sh's private server, started if needed)
#   CLUSTER_ID         Orleans cluster and service id (default simvlm-cluster)
#   CLUSTER_WAIT       seconds `up` waits for every /healthz (default 240); CLUSTER_GRACE: seconds `down` waits after SIGTERM (default 40)
# Any other PLATFORM_* variable in the environment reaches every silo (e.g. PLATFORM_Training__LeaseTimeout=00:00:10).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${CLUSTER_STATE:-$repo/.state/cluster}
publish=${CLUSTER_PUBLISH:-$repo/.state/cluster/publish}
base=${CLUSTER_BASE_PORT:-21100}
cluster_id=${CLUSTER_ID:-simvlm-cluster}
wait_s=${CLUSTER_WAIT:-240}
grace_s=${CLUSTER_GRACE:-40}
mkdir -p "$state"
state=$(cd "$state" && pwd)

# Azurite's well-known development account (public, documented by Microsoft; emulator only).
account=devstoreaccount1
account_key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
storage="DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$account_key;BlobEndpoint=http://127.0.0.1:$base/$account;QueueEndpoint=http://127.0.0.1:$((base + 1))/$account;TableEndpoint=http://127.0.0.1:$((base + 2))/$account;"

die() { echo "cluster.sh: $*" >&2; exit 1; }
listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
silo_port() { echo $((base + 10 * $1)); }
gateway_port() { echo $((base + 10 * $1 + 1)); }
web_port() { echo $((base + 10 * $1 + 2)); }

# A pid file holds "PID STARTTIME": the start time (clock ticks after boot, /proc/PID/stat field 22) tells a recycled pid
# from the process `up` started, so `down` never signals a stranger.
start_time() { local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; set -- ${stat##*) }; echo "${20}"; }
record() { echo "$2 $(start_time "$2")" > "$1"; }
# Alive: the recorded process still runs (a zombie has already exited and let go of its ports).
recorded_alive() {
  local pid started stat
  [ -f "$1" ] || return 1
  read -r pid started < "$1"
  [ "$(start_time "$pid" 2>/dev/null)" = "$started" ] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  set -- ${stat##*) }
  [ "$1" != Z ]
}
recorded_pid() { read -r pid _ < "$1"; echo "$pid"; }

silo_files() { compgen -G "$state/silo-*.pid" | sort -V || true; }

publish_if_stale() {
  local stamp=$publish/.published
  if [ -f "$stamp" ] && [ -f "$publish/platform.dll" ] && [ -z "$(cd "$repo" && find Silo Grains Contracts Model Ingestion Datasets Dashboard Benchmarks deploy/build \
        Directory.Build.props Directory.Build.targets Directory.Packages.props \( -name bin -o -name obj \) -prune -o -type f -newer "$stamp" -print -quit)" ]; then
    echo "cluster.sh: $publish is up to date"
    return
  fi
  echo "cluster.sh: publishing platform to $publish"
  mkdir -p "$publish"
  if ! dotnet publish "$repo/Silo" -c Release -o "$publish" -nologo -v q > "$state/publish.log" 2>&1; then
    tail -n 30 "$state/publish.log" >&2
    die "publish failed (full log: $state/publish.log)"
  fi
  touch "$stamp"
}

start_azurite() {
  if listening "$base"; then
    echo "cluster.sh: storage already served on 127.0.0.1:$base; using it"
    return
  fi
  for port in $((base + 1)) $((base + 2)); do
    listening "$port" && die "port $port (Azurite's queue/table) is in use by another process; choose another CLUSTER_BASE_PORT"
  done
  local azurite=$repo/node_modules/.bin/azurite
  [ -x "$azurite" ] || die "Azurite is not installed: run bash deploy/setup.sh"
  mkdir -p "$state/azurite"
  setsid "$azurite" --blobHost 127.0.0.1 --blobPort "$base" --queueHost 127.0.0.1 --queuePort $((base + 1)) \
    --tableHost 127.0.0.1 --tablePort $((base + 2)) --location "$state/azurite" \
    --skipApiVersionCheck --disableProductStyleUrl --disableTelemetry --silent > "$state/azurite.log" 2>&1 < /dev/null &
  record "$state/azurite.pid" $!
  for _ in $(seq 1 120); do
    listening "$base" && listening $((base + 2)) && { echo "cluster.sh: Azurite running (pid $!) on 127.0.0.1:$base-$((base + 2))"; return; }
    recorded_alive "$state/azurite.pid" || { cat "$state/azurite.log" >&2; die "Azurite exited"; }
    sleep 0.5
  done
  die "Azurite did not listen on 127.0.0.1:$base within 60 s (log: $state/azurite.log)"
}

hangfire_connection() {
  if [ -n "${CLUSTER_POSTGRES:-}" ]; then echo "$CLUSTER_POSTGRES"; return; fi
  local pg_port=${PLATFORM_PG_PORT:-55432}
  if ! listening "$pg_port"; then
    bash "$repo/deploy/postgres.sh" start > /dev/null
    # Remembered so that `down` stops the server only when `up` started it.
    touch "$state/postgres.started"
  fi
  echo "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres"
}

device_of() {
  local i=$1 list=${CLUSTER_DEVICES:-}
  if [ -z "$list" ]; then
    [ "$i" -eq 1 ] && echo none || echo cpu
    return
  fi
  local devices; IFS=, read -r -a devices <<< "$list"
  [ "$i" -le "${#devices[@]}" ] || die "CLUSTER_DEVICES='$list' names ${#devices[@]} silos' devices, not $i"
  echo "${devices[$((i - 1))]//+/,}"
}

healthz() { curl -s -m 5 -o "$2" -w '%{http_code}' "http://127.0.0.1:$(web_port "$1")/healthz" 2>/dev/null || true; }

up() {
  local n=${1:-}
  [[ "$n" =~ ^[1-9][0-9]?$ ]] || die "usage: $0 up N (1-99 silos)"
  [ -z "$(silo_files)" ] || die "a cluster is already recorded in $state; run $0 down first"
  command -v ss > /dev/null || die "ss (iproute2) is needed to check ports"
  for i in $(seq 1 "$n"); do
    for port in $(silo_port "$i") $(gateway_port "$i") $(web_port "$i"); do
      listening "$port" && die "port $port (silo $i) is in use by another process; choose another CLUSTER_BASE_PORT"
    done
  done
  publish_if_stale
  local pg; pg=$(hangfire_connection)
  start_azurite
  mkdir -p "$state/checkpoints" "$state/ingest"

  for i in $(seq 1 "$n"); do
    local devices; devices=$(device_of "$i")
    # The working folder is the state folder, so nothing a silo writes lands in the caller's directory.
    (cd "$state" || exit 1
     env \
      PLATFORM_Clustering__Mode=AzureTable \
      PLATFORM_Clustering__ClusterId="$cluster_id" \
      PLATFORM_Clustering__ServiceId="$cluster_id" \
      PLATFORM_Clustering__AdvertisedAddress=127.0.0.1 \
      PLATFORM_Clustering__SiloPort="$(silo_port "$i")" \
      PLATFORM_Clustering__GatewayPort="$(gateway_port "$i")" \
      PLATFORM_Storage__ConnectionString="$storage" \
      PLATFORM_Storage__Emulator=Never \
      PLATFORM_Hangfire__PostgreSqlConnectionString="$pg" \
      PLATFORM_Web__Urls="http://127.0.0.1:$(web_port "$i")" \
      PLATFORM_Training__Devices="$devices" \
      PLATFORM_Training__CheckpointRoot="$state/checkpoints" \
      PLATFORM_IngestWatch__WorkDirectory="$state/ingest" \
      setsid dotnet "$publish/platform.dll" up > "$state/silo-$i.log" 2>&1 < /dev/null &
     record "$state/silo-$i.pid" $!)
    echo "cluster.sh: silo $i (devices $devices) pid $(recorded_pid "$state/silo-$i.pid"): silo $(silo_port "$i"), gateway $(gateway_port "$i"), web http://127.0.0.1:$(web_port "$i")"
  done

  local deadline=$((SECONDS + wait_s)) body=$state/.healthz
  for i in $(seq 1 "$n"); do
    while :; do
      if ! recorded_alive "$state/silo-$i.pid"; then
        tail -n 40 "$state/silo-$i.log" >&2
        die "silo $i exited during start (log: $state/silo-$i.log); $0 down stops the rest"
      fi
      if [ "$(healthz "$i" "$body")" = 200 ] && ! grep -Eq '"(Degraded|Unhealthy)"' "$body"; then break; fi
      [ $SECONDS -lt $deadline ] || die "silo $i was not healthy within ${wait_s} s (log: $state/silo-$i.log); $0 down stops the cluster"
      sleep 1
    done
  done
  rm -f "$body"
  echo "cluster.sh: $n silos healthy"
}

status() {
  local files; files=$(silo_files)
  [ -n "$files" ] || { echo "cluster.sh: no cluster recorded in $state"; return 0; }
  local body=$state/.healthz
  printf '%-6s %-8s %-6s %-8s %-6s %-6s %-8s %s\n' silo pid silo gateway web alive healthz activeSilos
  for file in $files; do
    local i=${file##*/silo-}; i=${i%.pid}
    local alive=no code=- active=-
    if recorded_alive "$file"; then
      alive=yes
      code=$(healthz "$i" "$body")
      active=$(grep -o '"activeSilos": *[0-9]*' "$body" 2>/dev/null | grep -o '[0-9]*$' || echo -)
    fi
    printf '%-6s %-8s %-6s %-8s %-6s %-6s %-8s %s\n' "$i" "$(recorded_pid "$file")" "$(silo_port "$i")" "$(gateway_port "$i")" "$(web_port "$i")" "$alive" "$code" "$active"
  done
  rm -f "$body"
  if [ -f "$state/azurite.pid" ]; then
    recorded_alive "$state/azurite.pid" && echo "azurite pid $(recorded_pid "$state/azurite.pid") on 127.0.0.1:$base-$((base + 2))" \
      || echo "azurite pid $(recorded_pid "$state/azurite.pid") is not running"
  fi
}

# SIGTERM to every recorded process still running, SIGKILL to those still there after the grace period.
stop_recorded() {
  local files=("$@") running=()
  for file in "${files[@]}"; do
    if recorded_alive "$file"; then
      kill -TERM "$(recorded_pid "$file")" 2>/dev/null || true
      running+=("$file")
    fi
  done
  local deadline=$((SECONDS + grace_s))
  for file in "${running[@]}"; do
    while recorded_alive "$file" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    if recorded_alive "$file"; then
      echo "cluster.sh: pid $(recorded_pid "$file") ignored SIGTERM for ${grace_s} s; SIGKILL" >&2
      kill -KILL "$(recorded_pid "$file")" 2>/dev/null || true
      while recorded_alive "$file"; do sleep 0.2; done
    fi
  done
  rm -f "${files[@]}"
}

down() {
  local files ports=()
  mapfile -t files < <(silo_files)
  for file in "${files[@]}"; do
    local i=${file##*/silo-}; i=${i%.pid}
    ports+=("$(silo_port "$i")" "$(gateway_port "$i")" "$(web_port "$i")")
  done
  [ ${#files[@]} -eq 0 ] || stop_recorded "${files[@]}"
  if [ -f "$state/azurite.pid" ]; then
    stop_recorded "$state/azurite.pid"
    ports+=("$base" $((base + 1)) $((base + 2)))
  fi
  if [ -f "$state/postgres.started" ]; then
    bash "$repo/deploy/postgres.sh" stop
    rm -f "$state/postgres.started"
  fi
  local busy=()
  for port in "${ports[@]}"; do listening "$port" && busy+=("$port"); done
  [ ${#busy[@]} -eq 0 ] || die "stopped every recorded process, but something still listens on ${busy[*]}"
  echo "cluster.sh: stopped ${#files[@]} silos; nothing listens on their ports"
}

case "${1:-}" in
  up) up "${2:-}" ;;
  status) status ;;
  down) down ;;
  *) echo "usage: $0 up N | status | down" >&2; exit 2 ;;
esac
