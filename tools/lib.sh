# shellcheck shell=bash
# tools/lib.sh: shared helpers for tools/run, tools/test, tools/db and .ci/run.
#
# Source it from a bash script that runs with `set -euo pipefail`. It defines
# functions only (plus a few TA_* variables); nothing runs on source.
#
#   ta_ensure_deps        Debian packages (apt, only as root) + node_modules (npm ci)
#   ta_build [type]       configure (when needed) and build into build/
#   ta_db_start           private MariaDB under var/mariadb/, reused if running
#   ta_db_env             export TOKENAUTH_MYSQL_* for that MariaDB
#   ta_db_stop            stop it
#   ta_db_status          print whether it runs, and where
#
# Everything the scripts create lives under var/ (gitignored): var/log/ for
# logs, var/mariadb/ for the database, var/cache/ for tool caches.

TA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TA_VAR="$TA_ROOT/var"
TA_LOG_DIR="$TA_VAR/log"
TA_SETUP_LOG="$TA_LOG_DIR/setup.log"
TA_BUILD_DIR="$TA_ROOT/build"
TA_DB_DIR="$TA_VAR/mariadb"
TA_DB_DATA="$TA_DB_DIR/data"
TA_DB_PIDFILE="$TA_DB_DIR/mariadb.pid"
TA_DB_LOG="$TA_DB_DIR/mariadb.log"
TA_DB_PASSWORD_FILE="$TA_DB_DIR/app-password"
TA_DB_SOCKET_FILE="$TA_DB_DIR/socket"   # holds the socket path in use
TA_DB_PORT_FILE="$TA_DB_DIR/port"       # holds the port in use
TA_DB_CLIENT_CNF="$TA_DB_DIR/client.cnf" # [client] options for the app user
TA_DB_INSTALLED_MARK="$TA_DB_DIR/.installed"
TA_DB_APP_USER="tokenauth"
TA_DB_APP_DATABASE="tokenauth"
# shellcheck disable=SC2034  # read by tools/test
TA_DB_STARTED_HERE=0  # set to 1 by ta_db_start when this process started it

TA_DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libmysqlcppconn-dev mariadb-server mariadb-client
  libsodium-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
  grpc-proto nghttp2-client python3 python3-grpcio python3-protobuf
  nodejs npm openssl ca-certificates procps clang libclang-rt-14-dev
  libcpp-httplib-dev galera-4 mariadb-backup
)

# --- output -----------------------------------------------------------------

ta_say() { printf '[tokenauth] %s\n' "$*" >&2; }
ta_die() { printf '[tokenauth] ERROR: %s\n' "$*" >&2; exit 1; }

# ta__logged LOGFILE CMD...: run CMD with its output appended to LOGFILE; on
# failure show the end of the log and return CMD's status.
ta__logged() {
  local log="$1"; shift
  mkdir -p "$(dirname "$log")"
  printf '\n=== %s: %s\n' "$(date '+%F %T')" "$*" >>"$log"
  local rc=0
  "$@" >>"$log" 2>&1 </dev/null || rc=$?
  if ((rc != 0)); then
    ta_say "command failed (exit $rc): $*"
    ta_say "last lines of ${log#"$TA_ROOT"/}:"
    tail -n 40 "$log" | sed 's/^/    /' >&2
  fi
  return "$rc"
}

# --- dependencies -----------------------------------------------------------

ta__pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

ta__npm_lock_sum() {
  if [[ -f "$TA_ROOT/package-lock.json" ]]; then
    sha256sum "$TA_ROOT/package-lock.json" | cut -d' ' -f1
  else
    sha256sum "$TA_ROOT/package.json" | cut -d' ' -f1
  fi
}

ta_ensure_deps() {
  mkdir -p "$TA_LOG_DIR"

  # 1. Debian packages.
  local -a missing=()
  local p
  for p in "${TA_DEBIAN_PACKAGES[@]}"; do
    if [[ "$p" == nodejs || "$p" == npm ]] && command -v node >/dev/null && command -v npm >/dev/null; then
      continue  # a node/npm is already on PATH (e.g. NodeSource); apt's would conflict
    fi
    ta__pkg_installed "$p" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    ta_say "setup: Debian packages present"
  elif ((EUID != 0)); then
    ta_say "setup: missing Debian packages: ${missing[*]}"
    ta_say "install them with:"
    ta_say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    ta_die "missing packages (not root, so not installing them)"
  else
    ta_say "setup: installing ${#missing[@]} Debian packages: ${missing[*]} (log: var/log/setup.log)"
    ta__logged "$TA_SETUP_LOG" apt-get -o DPkg::Lock::Timeout=300 update \
      || ta_die "apt-get update failed"
    ta__logged "$TA_SETUP_LOG" env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" \
      || ta_die "apt-get install failed"
    ta_say "setup: Debian packages installed"
  fi
  command -v npm >/dev/null || ta_die "npm not found on PATH"

  # 2. node_modules (buf, grpc-js). Reinstalled when package-lock.json changes.
  local stamp="$TA_ROOT/node_modules/.tokenauth-lock.sha256"
  local want; want="$(ta__npm_lock_sum)"
  if [[ -x "$TA_ROOT/node_modules/.bin/buf" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    ta_say "setup: node_modules up to date"
  else
    ta_say "setup: installing node_modules (log: var/log/setup.log)"
    if [[ -f "$TA_ROOT/package-lock.json" ]]; then
      (cd "$TA_ROOT" && ta__logged "$TA_SETUP_LOG" npm ci --no-audit --no-fund) \
        || ta_die "npm ci failed"
    else
      (cd "$TA_ROOT" && ta__logged "$TA_SETUP_LOG" npm install --no-audit --no-fund) \
        || ta_die "npm install failed"
      want="$(ta__npm_lock_sum)"
    fi
    [[ -x "$TA_ROOT/node_modules/.bin/buf" ]] || ta_die "node_modules/.bin/buf missing after npm install"
    printf '%s\n' "$want" >"$stamp"
    ta_say "setup: node_modules installed (buf $("$TA_ROOT/node_modules/.bin/buf" --version 2>/dev/null || echo '?'))"
  fi
}

# --- build ------------------------------------------------------------------

ta__cache_value() {  # ta__cache_value NAME: value of NAME in build/CMakeCache.txt
  sed -n "s/^$1:[A-Z]*=//p" "$TA_BUILD_DIR/CMakeCache.txt" 2>/dev/null | head -n1
}

ta_build() {
  local build_type="${1:-Release}"
  local cache="$TA_BUILD_DIR/CMakeCache.txt"
  mkdir -p "$TA_LOG_DIR"

  # A build dir configured with another generator cannot be reused by Ninja.
  if [[ -f "$cache" && "$(ta__cache_value CMAKE_GENERATOR)" != "Ninja" ]]; then
    ta_say "build: build/ was configured with '$(ta__cache_value CMAKE_GENERATOR)'; clearing its CMake cache for Ninja"
    rm -rf "$cache" "$TA_BUILD_DIR/CMakeFiles"
  fi

  # Configure only when needed; afterwards ninja re-runs cmake by itself
  # whenever a CMakeLists.txt changes.
  if [[ ! -f "$TA_BUILD_DIR/build.ninja" || "$(ta__cache_value CMAKE_BUILD_TYPE)" != "$build_type" ]]; then
    ta_say "build: configuring ($build_type, log: var/log/configure.log)"
    : >"$TA_LOG_DIR/configure.log"
    ta__logged "$TA_LOG_DIR/configure.log" \
      cmake -S "$TA_ROOT" -B "$TA_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
      || ta_die "cmake configure failed (full log: var/log/configure.log)"
  fi

  ta_say "build: building ($build_type, $(nproc) jobs)"
  cmake --build "$TA_BUILD_DIR" -j"$(nproc)" || ta_die "build failed"
  ta_say "build: done"
}

# --- MariaDB ----------------------------------------------------------------

ta__db_port() {
  # The port of a running instance wins over TOKENAUTH_DB_PORT.
  if ta__db_pid >/dev/null && [[ -s "$TA_DB_PORT_FILE" ]]; then
    cat "$TA_DB_PORT_FILE"
  else
    printf '%s\n' "${TOKENAUTH_DB_PORT:-33061}"
  fi
}

ta__db_socket_candidate() {
  # sun_path holds 108 bytes including the NUL; stay well below.
  local s="$TA_DB_DIR/mariadb.sock"
  if ((${#s} <= 100)); then
    printf '%s\n' "$s"
  else
    printf '/tmp/tokenauth-%s.sock\n' "$(printf '%s' "$TA_ROOT" | sha256sum | cut -c1-12)"
  fi
}

ta__db_socket() {
  if [[ -s "$TA_DB_SOCKET_FILE" ]]; then cat "$TA_DB_SOCKET_FILE"; else ta__db_socket_candidate; fi
}

# ta__db_pid: print the pid of our mariadbd if it is alive, else fail.
ta__db_pid() {
  [[ -s "$TA_DB_PIDFILE" ]] || return 1
  local pid; pid="$(tr -dc '0-9' <"$TA_DB_PIDFILE")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid, and a zombie is not alive.
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == mariadbd* || "$(cat "/proc/$pid/comm" 2>/dev/null)" == mysqld* ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]] || return 1
  printf '%s\n' "$pid"
}

ta__db_ping() {  # exit 0 iff the server answers (even "access denied" counts)
  mariadb-admin --no-defaults --socket="$(ta__db_socket)" --connect-timeout=2 \
    -u"$(id -un)" ping >/dev/null 2>&1
}

# ta__db_admin ARGS...: run the mariadb client as the admin over the socket.
# mariadb-install-db makes root@localhost (and, when run as another OS user,
# that user@localhost) with unix_socket auth, so the OS user name works.
ta__db_admin() {
  local sock; sock="$(ta__db_socket)"
  local u
  for u in "$(id -un)" root; do
    if mariadb --no-defaults --socket="$sock" -u"$u" -e 'SELECT 1' >/dev/null 2>&1; then
      mariadb --no-defaults --socket="$sock" -u"$u" "$@"
      return
    fi
  done
  ta_say "db: cannot log in as admin over $sock (tried '$(id -un)' and 'root' with unix_socket auth)"
  return 1
}

ta__sql_quote() {  # single-quoted SQL string literal
  local s="${1//\\/\\\\}"
  printf "'%s'" "${s//\'/\'\'}"
}

ta__db_setup_app() {
  local pw
  if [[ ! -s "$TA_DB_PASSWORD_FILE" ]]; then
    (umask 077 && openssl rand -hex 16 >"$TA_DB_PASSWORD_FILE")
  fi
  chmod 600 "$TA_DB_PASSWORD_FILE"
  pw="$(cat "$TA_DB_PASSWORD_FILE")"
  local qpw; qpw="$(ta__sql_quote "$pw")"
  local u="'$TA_DB_APP_USER'" host sql=""
  for host in localhost 127.0.0.1; do
    sql+="CREATE USER IF NOT EXISTS $u@'$host' IDENTIFIED BY $qpw;"
    sql+="ALTER USER $u@'$host' IDENTIFIED BY $qpw;"
    sql+="GRANT ALL PRIVILEGES ON \`${TA_DB_APP_DATABASE}%\`.* TO $u@'$host';"
  done
  sql+="CREATE DATABASE IF NOT EXISTS \`$TA_DB_APP_DATABASE\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
  sql+="FLUSH PRIVILEGES;"
  # Feed the SQL on stdin so the password never shows in ps.
  printf '%s\n' "$sql" | ta__db_admin --batch || return 1

  # Option file for `mariadb --defaults-file=var/mariadb/client.cnf` (tools/db shell).
  (umask 077 && cat >"$TA_DB_CLIENT_CNF" <<EOF
[client]
host=127.0.0.1
port=$(ta__db_port)
user=$TA_DB_APP_USER
password=$pw
[mariadb-client]
database=$TA_DB_APP_DATABASE
EOF
  )
}

ta_db_start() {
  command -v mariadbd >/dev/null || PATH="$PATH:/usr/sbin"
  command -v mariadbd >/dev/null || ta_die "mariadbd not found (package mariadb-server)"
  mkdir -p "$TA_DB_DIR" "$TA_LOG_DIR"

  local pid
  if pid="$(ta__db_pid)"; then
    local i
    for ((i = 0; i < 60; i++)); do ta__db_ping && break; sleep 0.5; done
    ta__db_ping || ta_die "db: mariadbd (pid $pid) runs but does not answer on $(ta__db_socket); see var/mariadb/mariadb.log"
    if [[ -n "${TOKENAUTH_DB_PORT:-}" && "$TOKENAUTH_DB_PORT" != "$(ta__db_port)" ]]; then
      ta_say "db: note: running instance uses port $(ta__db_port), not TOKENAUTH_DB_PORT=$TOKENAUTH_DB_PORT (tools/db stop to change)"
    fi
    ta__db_setup_app || ta_die "db: creating the app account failed"
    ta_say "db: reusing MariaDB (pid $pid, port $(ta__db_port), var/mariadb)"
    return 0
  fi

  # Not running: clean up leftovers of a previous run.
  local port="${TOKENAUTH_DB_PORT:-33061}"
  local sock; sock="$(ta__db_socket_candidate)"
  rm -f "$TA_DB_PIDFILE"
  [[ -S "$sock" ]] && rm -f "$sock"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    ta_die "db: port $port on 127.0.0.1 is taken by another process; set TOKENAUTH_DB_PORT to a free port"
  fi
  printf '%s\n' "$sock" >"$TA_DB_SOCKET_FILE"
  printf '%s\n' "$port" >"$TA_DB_PORT_FILE"

  local -a as_user=()
  ((EUID == 0)) && as_user=(--user=root)  # mariadbd refuses root without it

  if [[ ! -f "$TA_DB_INSTALLED_MARK" ]]; then
    ta_say "db: initialising data directory var/mariadb/data (log: var/log/setup.log)"
    rm -rf "$TA_DB_DATA"
    mkdir -p "$TA_DB_DATA"
    ta__logged "$TA_SETUP_LOG" mariadb-install-db --no-defaults --datadir="$TA_DB_DATA" \
      --user="$(id -un)" --auth-root-authentication-method=socket --skip-test-db \
      || ta_die "db: mariadb-install-db failed"
    touch "$TA_DB_INSTALLED_MARK"
  fi

  ta_say "db: starting MariaDB on 127.0.0.1:$port (socket $sock)"
  # setsid -f + nohup: forked into its own session, so it outlives this
  # script, ignores the terminal's Ctrl-C and is not the child of whatever
  # this script execs next (tools/run execs the server, which would leave a
  # zombie mariadbd behind); all std streams redirected so no pipe is held
  # open.
  setsid -f nohup mariadbd --no-defaults \
    --datadir="$TA_DB_DATA" \
    --socket="$sock" \
    --port="$port" \
    --bind-address=127.0.0.1 \
    "${as_user[@]}" \
    --pid-file="$TA_DB_PIDFILE" \
    --log-error="$TA_DB_LOG" \
    --skip-name-resolve \
    --innodb-buffer-pool-size=128M \
    --innodb-flush-log-at-trx-commit=2 \
    --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_unicode_ci \
    </dev/null >>"$TA_DB_LOG" 2>&1 &

  local i
  for ((i = 0; i < 60; i++)); do
    if ta__db_ping && ta__db_pid >/dev/null; then break; fi
    # setsid -f has already exited; look for the mariadbd it forked.
    if ((i > 2)) && ! pgrep -f -- "--datadir=$TA_DB_DATA" >/dev/null &&
      ! ta__db_pid >/dev/null; then
      tail -n 30 "$TA_DB_LOG" | sed 's/^/    /' >&2
      ta_die "db: mariadbd exited during start-up; see var/mariadb/mariadb.log"
    fi
    sleep 0.5
  done
  if ! ta__db_ping; then
    tail -n 30 "$TA_DB_LOG" | sed 's/^/    /' >&2
    ta_die "db: mariadbd did not answer within 30s; see var/mariadb/mariadb.log"
  fi
  # shellcheck disable=SC2034  # read by tools/test
  TA_DB_STARTED_HERE=1
  ta__db_setup_app || ta_die "db: creating the app account failed"
  ta_say "db: MariaDB up (pid $(ta__db_pid), port $port, data var/mariadb/data)"
}

ta_db_env() {
  if [[ -z "${TOKENAUTH_MYSQL_PASSWORD:-}" ]]; then
    [[ -s "$TA_DB_PASSWORD_FILE" ]] || ta_die "db: no var/mariadb/app-password yet; run tools/db start"
    TOKENAUTH_MYSQL_PASSWORD="$(cat "$TA_DB_PASSWORD_FILE")"
  fi
  export TOKENAUTH_MYSQL_HOST="${TOKENAUTH_MYSQL_HOST:-127.0.0.1}"
  export TOKENAUTH_MYSQL_PORT="${TOKENAUTH_MYSQL_PORT:-$(ta__db_port)}"
  export TOKENAUTH_MYSQL_USER="${TOKENAUTH_MYSQL_USER:-$TA_DB_APP_USER}"
  export TOKENAUTH_MYSQL_PASSWORD
  export TOKENAUTH_MYSQL_DATABASE="${TOKENAUTH_MYSQL_DATABASE:-$TA_DB_APP_DATABASE}"
}

ta_db_stop() {
  local pid
  if ! pid="$(ta__db_pid)"; then
    rm -f "$TA_DB_PIDFILE"
    ta_say "db: not running"
    return 0
  fi
  ta_say "db: stopping MariaDB (pid $pid)"
  local sock; sock="$(ta__db_socket)"
  local u done_shutdown=0
  for u in "$(id -un)" root; do
    if mariadb-admin --no-defaults --socket="$sock" -u"$u" --connect-timeout=5 shutdown >/dev/null 2>&1; then
      done_shutdown=1; break
    fi
  done
  ((done_shutdown)) || kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    ta_say "db: mariadbd (pid $pid) still up after 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$TA_DB_PIDFILE"
  [[ -S "$sock" ]] && rm -f "$sock"
  ta_say "db: stopped"
}

ta_db_status() {
  local pid
  if pid="$(ta__db_pid)" && ta__db_ping; then
    echo "MariaDB: running (pid $pid)"
  elif [[ -n "${pid:-}" ]]; then
    echo "MariaDB: process $pid alive but not answering"
  else
    echo "MariaDB: stopped"
  fi
  echo "  data:     ${TA_DB_DATA#"$TA_ROOT"/}"
  echo "  log:      ${TA_DB_LOG#"$TA_ROOT"/}"
  echo "  port:     127.0.0.1:$(ta__db_port)"
  echo "  socket:   $(ta__db_socket)"
  echo "  app user: $TA_DB_APP_USER (password in ${TA_DB_PASSWORD_FILE#"$TA_ROOT"/}), database $TA_DB_APP_DATABASE"
  [[ -n "$pid" ]]
}
