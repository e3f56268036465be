"""The Python suite's part of the run record for the after-suite secret scan.

The C++ recorder (tests/secret_recorder.h) describes the record; this module
writes the same files, under TOKENAUTH_TEST_RUN_DIR (set by ctest; without it
nothing is recorded):

    servers/<name>.stdout, .stderr   where TokenauthServer puts its server's output
    secrets.tsv   <kind> TAB <C-escaped value>: passwords, token values,
                  session IDs, CSRF tokens and Basic credentials the tests sent
                  or received (test-only data, created 0600 in the build dir)
    errors.tsv    python3 TAB <method> TAB <code> TAB <message> TAB <details>

Interceptor() records every unary call of a channel wrapped with
grpc.intercept_channel. Each record is one os.write() on an O_APPEND file
descriptor, so parallel test processes never interleave lines.
"""

import base64
import os

import grpc

_KIND_BY_FIELD = {
    "password": "password", "current_password": "password", "new_password": "password",
    "session_id": "session", "csrf_token": "csrf",
}
_TOKEN_FIELDS = {("AuthenticateRequest", "token"), ("CreateTokenResponse", "value"),
                 ("RotateTokenResponse", "value")}
_seen = set()


def run_dir():
    return os.environ.get("TOKENAUTH_TEST_RUN_DIR", "")


def _escape(data):
    """C-escapes bytes the way absl::CUnescape reads them back (octal)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return "".join(chr(c) if 0x20 <= c < 0x7F and c not in (0x5C, 0x22, 0x27)
                   else "\\%03o" % c for c in data)


def _append(name, text):
    directory = run_dir()
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    data = text.encode("ascii")
    fd = os.open(os.path.join(directory, name),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        if os.write(fd, data) != len(data):
            raise OSError(f"short write to {name}")
    finally:
        os.close(fd)


def server_log_paths(name):
    """(stdout, stderr) paths in the run directory, or None without one."""
    directory = run_dir()
    if not directory:
        return None
    servers = os.path.join(directory, "servers")
    os.makedirs(servers, exist_ok=True)
    base = os.path.join(servers, f"python3.{name}.{os.getpid()}")
    return base + ".stdout", base + ".stderr"


def record_secrets(pairs):
    lines = []
    for kind, value in pairs:
        if not value or (kind, value) in _seen:
            continue
        _seen.add((kind, value))
        lines.append(f"{kind}\t{_escape(value)}\n")
    if lines:
        _append("secrets.tsv", "".join(lines))


def secrets_in_message(message, depth=0):
    found = []
    if depth > 16 or not hasattr(message, "ListFields"):
        return found
    for field, value in message.ListFields():
        values = value if field.label == field.LABEL_REPEATED else [value]
        if field.type == field.TYPE_MESSAGE:
            for item in values:
                found += secrets_in_message(item, depth + 1)
            continue
        if field.type != field.TYPE_STRING:
            continue
        kind = _KIND_BY_FIELD.get(field.name)
        if (field.containing_type.name, field.name) in _TOKEN_FIELDS:
            kind = "token"
        if kind:
            found += [(kind, v) for v in values if v]
    return found


def secrets_in_metadata(metadata):
    found = []
    for key, value in metadata or ():
        key = key.lower()
        if isinstance(value, bytes):
            continue
        if key == "x-session-id":
            found.append(("session", value))
        elif key == "x-csrf-token":
            found.append(("csrf", value))
        elif key == "authorization":
            scheme, _, rest = value.partition(" ")
            rest = rest.strip()
            if scheme.lower() == "bearer" and rest:
                found.append(("token", rest))
            elif scheme.lower() == "basic" and rest:
                found.append(("basic", rest))
                try:
                    decoded = base64.b64decode(rest, validate=True).decode("utf-8")
                except ValueError:
                    continue
                _, colon, password = decoded.partition(":")
                if colon and password:
                    found.append(("password", password))
            else:
                found.append(("token", value))
    return found


def record_error(method, call):
    details = b""
    for key, value in call.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            details = value
    code = call.code().value[0]
    _append("errors.tsv", f"python3\t{_escape(method)}\t{code}\t"
                          f"{_escape(call.details() or '')}\t{_escape(details)}\n")


class Interceptor(grpc.UnaryUnaryClientInterceptor):
    """Records the secrets and errors of every unary call."""

    def intercept_unary_unary(self, continuation, client_call_details, request):
        method = client_call_details.method
        if isinstance(method, bytes):
            method = method.decode("utf-8", "replace")
        record_secrets(secrets_in_metadata(client_call_details.metadata) +
                       secrets_in_message(request))
        call = continuation(client_call_details, request)
        try:
            response = call.result()
        except grpc.RpcError:
            record_error(method, call)
        else:
            record_secrets(secrets_in_message(response))
        return call
