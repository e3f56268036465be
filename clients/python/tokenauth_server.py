"""Runs a real tokenauth-server for a test, against a database of its own.

    server = TokenauthServer.start()   # raises TestSetupError on any problem
    channel = server.channel()
    ...
    exit_code = server.stop()          # SIGTERM; returns the exit code

start() creates a fresh database `tokenauth_test_py_<random>` with the
`mariadb` command-line client from TOKENAUTH_MYSQL_HOST/PORT/USER/PASSWORD
(all required), runs the binary named by TOKENAUTH_SERVER_BINARY on a free
loopback port with a bootstrap admin ("admin", random password) and the
cheapest password hashing, and waits (bounded) until grpc.health.v1.Health
says SERVING. stop() ends the server and drops the database.

Needs the generated stubs on PYTHONPATH (build/clients/python/gen) and
Debian's python3-grpcio; run it with /usr/bin/python3.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

import run_record

# Settings of the test's own environment that must not leak into the server.
_SERVER_SETTING_PREFIXES = ("TOKENAUTH_", "MAX_ACCESS_TOKENS", "ACCESS_TOKEN_",
                            "LOGIN_", "SESSION_")
_REQUIRED_ENV = ("TOKENAUTH_MYSQL_HOST", "TOKENAUTH_MYSQL_PORT",
                 "TOKENAUTH_MYSQL_USER", "TOKENAUTH_MYSQL_PASSWORD",
                 "TOKENAUTH_SERVER_BINARY")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0


class TestSetupError(Exception):
    """The server or its database could not be set up: the test fails."""


def _random_alnum(n):
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TokenauthServer:
    def __init__(self):
        self.mysql = {}
        self.binary = None
        self.database = None
        self.admin_password = _random_alnum(24)
        self.address = None
        self.process = None
        self.exit_code = None
        self.dir = tempfile.mkdtemp(prefix="tokenauth_py_")
        # Under ctest the server's output goes to the run directory, where the
        # after-suite secret scan reads it (clients/python/run_record.py).
        self.log_paths = (run_record.server_log_paths(os.path.basename(self.dir)) or
                          (os.path.join(self.dir, "server.stdout"),
                           os.path.join(self.dir, "server.stderr")))
        run_record.record_secrets([("password", self.admin_password)])
        self._channels = []

    # --- set-up -------------------------------------------------------------

    @classmethod
    def start(cls):
        missing = [name for name in _REQUIRED_ENV if not os.environ.get(name)]
        if missing:
            raise TestSetupError(
                "missing environment: " + ", ".join(missing) +
                " (run through ctest or tools/test, which set them; "
                "`source tools/lib.sh && ta_db_start && ta_db_env` for the database)")
        server = cls()
        server.binary = os.environ["TOKENAUTH_SERVER_BINARY"]
        if not os.access(server.binary, os.X_OK):
            raise TestSetupError(f"TOKENAUTH_SERVER_BINARY={server.binary} is not executable")
        server.mysql = {k: os.environ[f"TOKENAUTH_MYSQL_{k.upper()}"]
                        for k in ("host", "port", "user", "password")}
        try:
            server._create_database()
            server._spawn_and_wait()
        except BaseException:
            server._kill()
            server._drop_database()
            raise
        return server

    def _mariadb(self, sql):
        if shutil.which("mariadb") is None:
            raise TestSetupError("the `mariadb` client is not on PATH (package mariadb-client)")
        env = dict(os.environ, MYSQL_PWD=self.mysql["password"])  # not on argv
        result = subprocess.run(
            ["mariadb", "--no-defaults", "-h", self.mysql["host"], "-P", self.mysql["port"],
             "-u", self.mysql["user"], "--connect-timeout=10", "-e", sql],
            env=env, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise TestSetupError(f"mariadb -e {sql!r} failed (exit {result.returncode}): "
                                 f"{result.stderr.strip()}")

    def _create_database(self):
        name = "tokenauth_test_py_" + secrets.token_hex(6)
        self._mariadb(f"CREATE DATABASE `{name}` "
                      "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        self.database = name

    def _drop_database(self):
        if self.database is None:
            return
        try:
            self._mariadb(f"DROP DATABASE IF EXISTS `{self.database}`")
        finally:
            self.database = None

    def _server_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(_SERVER_SETTING_PREFIXES)}
        env.update({
            "TOKENAUTH_LISTEN": self.address,
            "TOKENAUTH_MYSQL_HOST": self.mysql["host"],
            "TOKENAUTH_MYSQL_PORT": self.mysql["port"],
            "TOKENAUTH_MYSQL_USER": self.mysql["user"],
            "TOKENAUTH_MYSQL_PASSWORD": self.mysql["password"],
            "TOKENAUTH_MYSQL_DATABASE": self.database,
            "TOKENAUTH_BOOTSTRAP_ADMIN": "admin",
            "TOKENAUTH_BOOTSTRAP_PASSWORD": self.admin_password,
            "TOKENAUTH_PASSWORD_HASH_COST": "minimum",
            "TOKENAUTH_STARTUP_DB_WAIT": "10s",
        })
        return env

    def _spawn_and_wait(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        for _attempt in range(3):
            self.address = f"127.0.0.1:{_free_loopback_port()}"
            with open(self.log_paths[0], "ab") as out, \
                    open(self.log_paths[1], "ab") as err:
                self.process = subprocess.Popen(
                    [self.binary], env=self._server_env(), stdin=subprocess.DEVNULL,
                    stdout=out, stderr=err)
            error = self._wait_serving(deadline)
            if error is None:
                return
            # Another process may have taken the port between our probe and the
            # server's bind: worth another try. Anything else is not.
            if self.process.poll() is None or "cannot listen" not in self.log_tail():
                break
        self._kill()
        raise TestSetupError(f"tokenauth-server did not start: {error}\n"
                             f"--- server output ({self.log_paths[0]}, .stderr) ---\n"
                             f"{self.log_tail()}")

    def _wait_serving(self, deadline):
        """None once Health/Check says SERVING, else why not."""
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return f"exited with code {code} during start-up"
            # A new channel (and connection) per attempt: a channel whose
            # first connect was refused waits out its reconnect backoff
            # (seconds) before it tries again.
            channel = grpc.insecure_channel(
                self.address, options=[("grpc.use_local_subchannel_pool", 1)])
            try:
                response = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1.0)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return None
                last = "health status " + health_pb2.HealthCheckResponse.ServingStatus.Name(
                    response.status)
            except grpc.RpcError as e:
                last = f"Health/Check: {e.code().name}: {e.details()}"
            finally:
                channel.close()
            time.sleep(0.1)
        return f"not SERVING within {START_TIMEOUT_S:.0f}s ({last})"

    # --- use ----------------------------------------------------------------

    def channel(self):
        """A channel whose every call is recorded for the secret scan."""
        channel = grpc.intercept_channel(grpc.insecure_channel(self.address),
                                         run_record.Interceptor())
        self._channels.append(channel)
        return channel

    def log_tail(self, lines=40):
        text = ""
        for path in self.log_paths:
            try:
                with open(path, encoding="utf-8",
                          errors="replace") as f:
                    text += "".join(f.readlines()[-lines:])
            except OSError:
                pass
        return text

    # --- tear-down ------------------------------------------------------------

    def stop(self):
        """SIGTERM, wait, drop the database. Returns the server's exit code
        (negative: killed by that signal)."""
        for channel in self._channels:
            channel.close()
        self._channels.clear()
        try:
            if self.process is not None and self.exit_code is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.exit_code = self.process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self._kill()
                    self.exit_code = "did not exit within %ss of SIGTERM" % STOP_TIMEOUT_S
        finally:
            self._drop_database()
        if self.exit_code == 0:
            shutil.rmtree(self.dir, ignore_errors=True)
        return self.exit_code

    def _kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
