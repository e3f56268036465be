"""The Python client's view of tokenauth: a real server, called through the
stubs protoc generates from proto/ (build/clients/python/gen).

Run by ctest (`ctest -R clients_python`), which sets PYTHONPATH and
TOKENAUTH_SERVER_BINARY; TOKENAUTH_MYSQL_* must come from the environment
(tools/test sets them). By hand, from the repo root:

    source tools/lib.sh && ta_db_start && ta_db_env
    cd clients/python && PYTHONPATH=../../build/clients/python/gen \\
      TOKENAUTH_SERVER_BINARY=../../build/server/tokenauth-server \\
      /usr/bin/python3 -m unittest -v test_tokenauth
"""

import base64
import re
import secrets
import unittest

import grpc
from google.protobuf import duration_pb2

from tokenauth.v1 import (auth_service_pb2, auth_service_pb2_grpc, resources_pb2,
                          token_service_pb2, token_service_pb2_grpc, user_service_pb2,
                          user_service_pb2_grpc)
from tokenauth_server import TokenauthServer

UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
DEADLINE_S = 10.0


def basic(username, password):
    value = base64.b64encode(f"{username}:{password}".encode()).decode()
    return (("authorization", "Basic " + value),)


def bearer(token):
    return (("authorization", "Bearer " + token),)


def session_headers(session_id, csrf_token=None):
    headers = [("x-session-id", session_id)]
    if csrf_token is not None:
        headers.append(("x-csrf-token", csrf_token))
    return tuple(headers)


def decode_status_details(error):
    """(google.rpc.Status, {type name: unpacked detail}) from a failed call's
    `grpc-status-details-bin` trailer. Fails the test when it is absent."""
    try:
        from google.rpc import error_details_pb2, status_pb2
    except ImportError as e:
        raise AssertionError(
            "google.rpc stubs missing from the generated code: "
            "third_party/google/rpc/{status,error_details}.proto must exist "
            f"when CMake configures ({e})") from e
    raw = [value for key, value in (error.trailing_metadata() or ())
           if key == "grpc-status-details-bin"]
    if len(raw) != 1:
        raise AssertionError(
            f"expected one grpc-status-details-bin trailer, got {len(raw)} "
            f"(trailers: {[k for k, _ in (error.trailing_metadata() or ())]})")
    status = status_pb2.Status.FromString(raw[0])
    details = {}
    for any_detail in status.details:
        for cls in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest,
                    error_details_pb2.PreconditionFailure, error_details_pb2.QuotaFailure,
                    error_details_pb2.RetryInfo, error_details_pb2.ResourceInfo):
            if any_detail.Is(cls.DESCRIPTOR):
                message = cls()
                any_detail.Unpack(message)
                if cls.DESCRIPTOR.full_name in details:
                    raise AssertionError(f"two {cls.DESCRIPTOR.full_name} details")
                details[cls.DESCRIPTOR.full_name] = message
    return status, details


class TokenauthTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = TokenauthServer.start()
        channel = cls.server.channel()
        cls.users = user_service_pb2_grpc.UserServiceStub(channel)
        cls.tokens = token_service_pb2_grpc.TokenServiceStub(channel)
        cls.auth = auth_service_pb2_grpc.AuthServiceStub(channel)
        cls.admin = basic("admin", cls.server.admin_password)

    @classmethod
    def tearDownClass(cls):
        if cls.server is None:
            return
        server, cls.server = cls.server, None
        log = server.log_tail()
        exit_code = server.stop()
        if exit_code != 0:
            raise AssertionError(
                f"tokenauth-server after SIGTERM: exit code {exit_code!r}, want 0\n"
                f"--- server output ({server.dir}) ---\n{log}")

    # --- helpers ------------------------------------------------------------

    def new_user(self):
        """A fresh user, made by the admin: (user, Basic metadata, password)."""
        username = "py_" + secrets.token_hex(4)
        password = secrets.token_urlsafe(18)
        response = self.users.CreateUser(
            user_service_pb2.CreateUserRequest(username=username, password=password),
            metadata=self.admin, timeout=DEADLINE_S)
        self.assertEqual(response.user.username, username)
        self.assertGreater(response.user.id, 0)
        self.assertFalse(response.user.admin)
        return response.user, basic(username, password), password

    def create_token(self, caller, name="ci", access=resources_pb2.TOKEN_ACCESS_READ_ONLY,
                     timeout=DEADLINE_S):
        return self.tokens.CreateToken(
            token_service_pb2.CreateTokenRequest(
                name=name, ttl=duration_pb2.Duration(seconds=3600),
                permissions=resources_pb2.TokenPermissions(access=access)),
            metadata=caller, timeout=timeout)

    def authenticate(self, token, operation=resources_pb2.OPERATION_READ, timeout=DEADLINE_S):
        return self.auth.Authenticate(
            auth_service_pb2.AuthenticateRequest(token=token, operation=operation),
            timeout=timeout)

    def assert_fails(self, code, call, *args, **kwargs):
        """Runs call(*args, **kwargs), which must fail with `code`; returns
        the error (a grpc.Call too: code(), details(), trailing_metadata())."""
        kwargs.setdefault("timeout", DEADLINE_S)
        with self.assertRaises(grpc.RpcError) as caught:
            call(*args, **kwargs)
        error = caught.exception
        self.assertEqual(error.code(), code, f"details: {error.details()!r}")
        return error

    def assert_error_info(self, error, reason=None):
        """The call's google.rpc.Status matches the call and carries an
        ErrorInfo in domain "tokenauth"; returns (ErrorInfo, all details)."""
        status, details = decode_status_details(error)
        self.assertEqual(status.code, error.code().value[0])
        self.assertEqual(status.message, error.details())
        info = details.get("google.rpc.ErrorInfo")
        self.assertIsNotNone(info, f"no ErrorInfo among {list(details)}")
        self.assertEqual(info.domain, "tokenauth")
        self.assertRegex(info.reason, UPPER_SNAKE)
        if reason is not None:
            self.assertEqual(info.reason, reason)
        return info, details

    # --- tokens ---------------------------------------------------------------

    def test_token_create_authenticate_revoke(self):
        user, alice, _ = self.new_user()
        created = self.create_token(alice, name="ci")
        self.assertRegex(created.value, r"^tka_[0-9A-Za-z]{40}$")
        token = created.token
        self.assertEqual(token.name, "ci")
        self.assertEqual(token.user_id, user.id)
        self.assertEqual(token.permissions.access, resources_pb2.TOKEN_ACCESS_READ_ONLY)
        self.assertEqual(token.state, resources_pb2.TOKEN_STATE_ACTIVE)
        self.assertTrue(token.HasField("expire_time"))
        self.assertTrue(token.hint.startswith("tka_" + token.id))
        self.assertNotIn(created.value, token.hint)
        self.assertFalse(created.replayed)

        ok = self.authenticate(created.value)
        self.assertEqual(ok.principal.user_id, user.id)
        self.assertEqual(ok.principal.username, user.username)
        self.assertFalse(ok.principal.admin)
        self.assertEqual(ok.credential_kind, resources_pb2.CREDENTIAL_KIND_ACCESS_TOKEN)
        self.assertEqual(ok.token.id, token.id)
        self.assertEqual(ok.token.name, "ci")

        # Read-only: a write is refused although the token is valid.
        self.assert_fails(grpc.StatusCode.PERMISSION_DENIED, self.authenticate,
                          created.value, resources_pb2.OPERATION_WRITE)
        # And as a caller it may read its tokens...
        listed = self.tokens.ListTokens(token_service_pb2.ListTokensRequest(),
                                        metadata=bearer(created.value), timeout=DEADLINE_S)
        self.assertEqual([t.id for t in listed.tokens], [token.id])
        # ...but not revoke one (needs a session or Basic).
        self.assert_fails(grpc.StatusCode.PERMISSION_DENIED, self.tokens.RevokeToken,
                          token_service_pb2.RevokeTokenRequest(id=token.id),
                          metadata=bearer(created.value))

        revoked = self.tokens.RevokeToken(token_service_pb2.RevokeTokenRequest(id=token.id),
                                          metadata=alice, timeout=DEADLINE_S)
        self.assertEqual(revoked.token.id, token.id)
        self.assertEqual(revoked.token.state, resources_pb2.TOKEN_STATE_REVOKED)
        self.assertTrue(revoked.token.HasField("revoke_time"))

        error = self.assert_fails(grpc.StatusCode.UNAUTHENTICATED, self.authenticate,
                                  created.value)
        self.assertNotIn(created.value, error.details())  # never echo a secret
        # Afterwards the token is gone for management calls.
        self.assert_fails(grpc.StatusCode.NOT_FOUND, self.tokens.GetToken,
                          token_service_pb2.GetTokenRequest(id=token.id), metadata=alice)

    def test_read_write_token_authenticates_writes(self):
        user, alice, _ = self.new_user()
        created = self.create_token(alice, access=resources_pb2.TOKEN_ACCESS_READ_WRITE)
        ok = self.authenticate(created.value, resources_pb2.OPERATION_WRITE)
        self.assertEqual(ok.principal.user_id, user.id)
        self.assertEqual(ok.token.permissions.access, resources_pb2.TOKEN_ACCESS_READ_WRITE)

    # --- sessions -------------------------------------------------------------

    def test_login_session_and_csrf(self):
        user, _, password = self.new_user()
        login = self.auth.Login(
            auth_service_pb2.LoginRequest(username=user.username, password=password,
                                          user_agent="python-test"),
            timeout=DEADLINE_S)
        self.assertRegex(login.session_id, r"^[0-9A-Za-z]{32}$")
        self.assertRegex(login.csrf_token, r"^[0-9A-Za-z]{32}$")
        self.assertNotEqual(login.session_id, login.csrf_token)
        self.assertEqual(login.session.user_id, user.id)
        self.assertTrue(login.session.handle)
        self.assertNotIn(login.session_id, login.session.handle)

        # Reads need the session ID only.
        listed = self.tokens.ListTokens(token_service_pb2.ListTokensRequest(),
                                        metadata=session_headers(login.session_id),
                                        timeout=DEADLINE_S)
        self.assertEqual(len(listed.tokens), 0)
        # Writes need the CSRF token too, and the right one.
        error = self.assert_fails(grpc.StatusCode.PERMISSION_DENIED, self.create_token,
                                  session_headers(login.session_id))
        self.assertIn("CSRF", error.details())
        error = self.assert_fails(grpc.StatusCode.PERMISSION_DENIED, self.create_token,
                                  session_headers(login.session_id, "x" * 32))
        self.assertIn("CSRF", error.details())
        created = self.create_token(session_headers(login.session_id, login.csrf_token),
                                    name="web")
        self.assertEqual(created.token.user_id, user.id)

        # The same check for a backend, through Authenticate.
        session = auth_service_pb2.SessionCredential(session_id=login.session_id)
        ok = self.auth.Authenticate(
            auth_service_pb2.AuthenticateRequest(session=session,
                                                 operation=resources_pb2.OPERATION_READ),
            timeout=DEADLINE_S)
        self.assertEqual(ok.credential_kind, resources_pb2.CREDENTIAL_KIND_SESSION)
        self.assertEqual(ok.principal.user_id, user.id)
        self.assertEqual(ok.session.handle, login.session.handle)
        self.assert_fails(grpc.StatusCode.PERMISSION_DENIED, self.auth.Authenticate,
                          auth_service_pb2.AuthenticateRequest(
                              session=session, operation=resources_pb2.OPERATION_WRITE))
        session.csrf_token = login.csrf_token
        ok = self.auth.Authenticate(
            auth_service_pb2.AuthenticateRequest(session=session,
                                                 operation=resources_pb2.OPERATION_WRITE),
            timeout=DEADLINE_S)
        self.assertEqual(ok.principal.user_id, user.id)

        # Logout ends it.
        self.auth.Logout(auth_service_pb2.LogoutRequest(),
                         metadata=session_headers(login.session_id, login.csrf_token),
                         timeout=DEADLINE_S)
        self.assert_fails(grpc.StatusCode.UNAUTHENTICATED, self.tokens.ListTokens,
                          token_service_pb2.ListTokensRequest(),
                          metadata=session_headers(login.session_id))

    # --- error codes ------------------------------------------------------------

    def test_empty_name_is_invalid_argument(self):
        _, alice, _ = self.new_user()
        error = self.assert_fails(grpc.StatusCode.INVALID_ARGUMENT, self.create_token,
                                  alice, name="")
        self.assertIn("name", error.details())

    def test_missing_credential_is_unauthenticated(self):
        self.assert_fails(grpc.StatusCode.UNAUTHENTICATED, self.tokens.ListTokens,
                          token_service_pb2.ListTokensRequest())
        self.assert_fails(grpc.StatusCode.UNAUTHENTICATED, self.create_token, ())

    def test_wrong_password_is_unauthenticated(self):
        user, _, _ = self.new_user()
        self.assert_fails(grpc.StatusCode.UNAUTHENTICATED, self.tokens.ListTokens,
                          token_service_pb2.ListTokensRequest(),
                          metadata=basic(user.username, "not-the-password"))

    def test_unknown_id_is_not_found(self):
        _, alice, _ = self.new_user()
        for call, request in (
                (self.tokens.GetToken, token_service_pb2.GetTokenRequest(id="AAAAAAAAAAAA")),
                (self.tokens.RevokeToken,
                 token_service_pb2.RevokeTokenRequest(id="AAAAAAAAAAAA"))):
            self.assert_fails(grpc.StatusCode.NOT_FOUND, call, request, metadata=alice)

    def test_other_users_token_is_not_found(self):
        _, alice, _ = self.new_user()
        _, bob, _ = self.new_user()
        token = self.create_token(alice).token
        self.assert_fails(grpc.StatusCode.NOT_FOUND, self.tokens.GetToken,
                          token_service_pb2.GetTokenRequest(id=token.id), metadata=bob)

    # --- rich error details (google.rpc.Status in grpc-status-details-bin) ----

    def test_details_empty_name(self):
        _, alice, _ = self.new_user()
        error = self.assert_fails(grpc.StatusCode.INVALID_ARGUMENT, self.create_token,
                                  alice, name="")
        info, details = self.assert_error_info(error, reason="INVALID_ARGUMENT")
        self.assertEqual(info.metadata.get("field"), "name", dict(info.metadata))
        bad_request = details.get("google.rpc.BadRequest")
        self.assertIsNotNone(bad_request, f"no BadRequest among {list(details)}")
        violations = {v.field: v.description for v in bad_request.field_violations}
        self.assertIn("name", violations)
        self.assertTrue(violations["name"], "empty description for field 'name'")

    def test_details_revoked_token(self):
        _, alice, _ = self.new_user()
        created = self.create_token(alice)
        self.tokens.RevokeToken(token_service_pb2.RevokeTokenRequest(id=created.token.id),
                                metadata=alice, timeout=DEADLINE_S)
        error = self.assert_fails(grpc.StatusCode.UNAUTHENTICATED, self.authenticate,
                                  created.value)
        info, _ = self.assert_error_info(error, reason="TOKEN_REVOKED")
        for value in info.metadata.values():
            self.assertNotIn(created.value, value)

    def test_details_malformed_token(self):
        # Right shape, wrong checksum: refused before any database lookup.
        error = self.assert_fails(grpc.StatusCode.UNAUTHENTICATED, self.authenticate,
                                  "tka_" + "A" * 40)
        self.assert_error_info(error, reason="TOKEN_MALFORMED")

    def test_details_on_other_errors(self):
        # Every error a caller can cause carries an ErrorInfo in our domain.
        _, alice, _ = self.new_user()
        self.assert_error_info(self.assert_fails(
            grpc.StatusCode.UNAUTHENTICATED, self.tokens.ListTokens,
            token_service_pb2.ListTokensRequest()))
        self.assert_error_info(self.assert_fails(
            grpc.StatusCode.NOT_FOUND, self.tokens.GetToken,
            token_service_pb2.GetTokenRequest(id="AAAAAAAAAAAA"), metadata=alice))
        read_only = self.create_token(alice)
        self.assert_error_info(self.assert_fails(
            grpc.StatusCode.PERMISSION_DENIED, self.authenticate, read_only.value,
            resources_pb2.OPERATION_WRITE))


if __name__ == "__main__":
    unittest.main()
