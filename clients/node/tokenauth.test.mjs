// The Node client's view of tokenauth: a real tokenauth-server, called with
// @grpc/grpc-js through @grpc/proto-loader, which reads the .proto files
// directly (proto/, /usr/share/grpc-proto, third_party/).
//
// Run by ctest (`ctest -R clients_node`), which sets TOKENAUTH_SERVER_BINARY;
// TOKENAUTH_MYSQL_* must come from the environment (tools/test sets them). By
// hand, from the repo root:
//
//   source tools/lib.sh && ta_db_start && ta_db_env
//   TOKENAUTH_SERVER_BINARY=build/server/tokenauth-server node --test clients/node/
//
// Each run creates its own database (tokenauth_test_node_<random>) with the
// mariadb command-line client and drops it at the end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const INCLUDE_DIRS = [
  path.join(ROOT, 'proto'),
  '/usr/share/grpc-proto',
  path.join(ROOT, 'third_party'),
];
const LOADER_OPTIONS = {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  includeDirs: INCLUDE_DIRS,
};
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 20_000;
const DEADLINE_MS = 10_000;
const REQUIRED_ENV = ['TOKENAUTH_MYSQL_HOST', 'TOKENAUTH_MYSQL_PORT', 'TOKENAUTH_MYSQL_USER',
  'TOKENAUTH_MYSQL_PASSWORD', 'TOKENAUTH_SERVER_BINARY'];
const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

const pkg = grpc.loadPackageDefinition(protoLoader.loadSync([
  'tokenauth/v1/auth_service.proto',
  'tokenauth/v1/token_service.proto',
  'tokenauth/v1/user_service.proto',
  'grpc/health/v1/health.proto',
], LOADER_OPTIONS));
const v1 = pkg.tokenauth.v1;

// --- the server and its database ---------------------------------------------

const server = {
  process: null, exited: null, address: null, database: null, dir: null,
  adminPassword: randomBytes(18).toString('base64url'), clients: [],
};

function mysqlEnv() {
  const missing = REQUIRED_ENV.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(`missing environment: ${missing.join(', ')} (run through ctest or ` +
      'tools/test; `source tools/lib.sh && ta_db_start && ta_db_env` for the database)');
  }
  const e = process.env;
  return {
    host: e.TOKENAUTH_MYSQL_HOST, port: e.TOKENAUTH_MYSQL_PORT,
    user: e.TOKENAUTH_MYSQL_USER, password: e.TOKENAUTH_MYSQL_PASSWORD,
  };
}

function mariadb(mysql, sql) {
  try {
    execFileSync('mariadb', ['--no-defaults', '-h', mysql.host, '-P', mysql.port,
      '-u', mysql.user, '--connect-timeout=10', '-e', sql], {
      env: { ...process.env, MYSQL_PWD: mysql.password }, // not on argv
      stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000,
    });
  } catch (e) {
    throw new Error(`mariadb -e ${JSON.stringify(sql)} failed: ${e.stderr ?? e.message}`);
  }
}

function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function logTail() {
  let text = '';
  for (const name of ['server.stdout', 'server.stderr']) {
    try {
      text += fs.readFileSync(path.join(server.dir, name), 'utf8').split('\n').slice(-40).join('\n');
    } catch { /* not written */ }
  }
  return text;
}

function serverEnv(mysql) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(TOKENAUTH_|MAX_ACCESS_TOKENS|ACCESS_TOKEN_|LOGIN_|SESSION_)/.test(k)) env[k] = v;
  }
  return {
    ...env,
    TOKENAUTH_LISTEN: server.address,
    TOKENAUTH_MYSQL_HOST: mysql.host,
    TOKENAUTH_MYSQL_PORT: mysql.port,
    TOKENAUTH_MYSQL_USER: mysql.user,
    TOKENAUTH_MYSQL_PASSWORD: mysql.password,
    TOKENAUTH_MYSQL_DATABASE: server.database,
    TOKENAUTH_BOOTSTRAP_ADMIN: 'admin',
    TOKENAUTH_BOOTSTRAP_PASSWORD: server.adminPassword,
    TOKENAUTH_PASSWORD_HASH_COST: 'minimum',
    TOKENAUTH_STARTUP_DB_WAIT: '10s',
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves to null once Health/Check says SERVING, else to why not.
async function waitServing(deadline) {
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (server.exited) return `exited (${JSON.stringify(server.exited)}) during start-up`;
    // A new client (and connection) per attempt: one whose first connect was
    // refused waits out its reconnect backoff before it tries again.
    const health = new pkg.grpc.health.v1.Health(server.address,
      grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const r = await unary(health, 'Check', {}, new grpc.Metadata(), 1000);
      if (r.status === 'SERVING') return null;
      last = `health status ${r.status}`;
    } catch (e) {
      last = `Health/Check: ${grpc.status[e.code]} ${e.details}`;
    } finally {
      health.close();
    }
    await sleep(100);
  }
  return `not SERVING within ${START_TIMEOUT_MS} ms (${last})`;
}

async function startServer() {
  const mysql = mysqlEnv();
  const binary = process.env.TOKENAUTH_SERVER_BINARY;
  fs.accessSync(binary, fs.constants.X_OK);
  server.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokenauth_node_'));
  const name = `tokenauth_test_node_${randomBytes(6).toString('hex')}`;
  mariadb(mysql, `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  server.database = name;

  const deadline = Date.now() + START_TIMEOUT_MS;
  let error;
  for (let attempt = 0; attempt < 3; attempt++) {
    server.address = `127.0.0.1:${await freeLoopbackPort()}`;
    const out = fs.openSync(path.join(server.dir, 'server.stdout'), 'a');
    const err = fs.openSync(path.join(server.dir, 'server.stderr'), 'a');
    server.exited = null;
    server.process = spawn(binary, [], { env: serverEnv(mysql), stdio: ['ignore', out, err] });
    fs.closeSync(out);
    fs.closeSync(err);
    server.exitPromise = new Promise((resolve) => {
      server.process.on('exit', (code, signal) => {
        server.exited = { code, signal };
        resolve(server.exited);
      });
    });
    error = await waitServing(deadline);
    if (error === null) return;
    // A lost race for the port is worth another try; anything else is not.
    if (!server.exited || !logTail().includes('cannot listen')) break;
  }
  throw new Error(`tokenauth-server did not start: ${error}\n--- server output ` +
    `(${server.dir}) ---\n${logTail()}`);
}

// Returns the exit code (or a description of how it ended), drops the database.
async function stopServer() {
  for (const c of server.clients) c.close();
  let result;
  try {
    if (server.process && !server.exited) {
      server.process.kill('SIGTERM');
      let timer;
      const timeout = new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS, null); });
      const exited = await Promise.race([server.exitPromise, timeout]);
      clearTimeout(timer);
      if (exited === null) {
        server.process.kill('SIGKILL');
        await server.exitPromise;
        result = `did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM`;
      }
    }
    if (server.exited && result === undefined) {
      result = server.exited.code ?? `signal ${server.exited.signal}`;
    }
  } finally {
    if (server.database) mariadb(mysqlEnv(), `DROP DATABASE IF EXISTS \`${server.database}\``);
    server.database = null;
  }
  return result;
}

// --- calls ---------------------------------------------------------------------

function unary(client, method, request, metadata = new grpc.Metadata(), timeoutMs = DEADLINE_MS) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + timeoutMs },
      (err, response) => (err ? reject(err) : resolve(response)));
  });
}

function basic(username, password) {
  const md = new grpc.Metadata();
  md.set('authorization', `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`);
  return md;
}

async function expectCode(promise, code) {
  try {
    const response = await promise;
    assert.fail(`expected ${grpc.status[code]}, got OK: ${JSON.stringify(response)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(grpc.status[e.code], grpc.status[code], `details: ${e.details}`);
    return e;
  }
}

// google.rpc.Status from a failed call's grpc-status-details-bin trailer,
// with its details unpacked: { status, details: { 'google.rpc.ErrorInfo': ... } }.
// proto-loader keeps no codec for messages, so this uses the protobufjs it
// is built on (resolved through proto-loader, which depends on it).
let rpcRoot = null;
function decodeStatusDetails(err) {
  if (rpcRoot === null) {
    const files = ['google/rpc/status.proto', 'google/rpc/error_details.proto'];
    for (const f of files) {
      assert.ok(fs.existsSync(path.join(ROOT, 'third_party', f)), `third_party/${f} is missing`);
    }
    const requireFromLoader = createRequire(createRequire(import.meta.url).resolve('@grpc/proto-loader'));
    const protobuf = requireFromLoader('protobufjs');
    const root = new protobuf.Root();
    root.resolvePath = (origin, target) => {
      for (const dir of INCLUDE_DIRS) {
        const candidate = path.join(dir, target);
        if (fs.existsSync(candidate)) return candidate;
      }
      return target; // google/protobuf/*.proto: bundled with protobufjs
    };
    root.loadSync(files, { keepCase: true });
    rpcRoot = root;
  }
  const raw = err.metadata?.get('grpc-status-details-bin') ?? [];
  assert.equal(raw.length, 1, `grpc-status-details-bin trailers: ${raw.length}; ` +
    `trailer keys: ${Object.keys(err.metadata?.getMap() ?? {})}`);
  const Status = rpcRoot.lookupType('google.rpc.Status');
  const status = Status.decode(raw[0]);
  const details = {};
  for (const any of status.details) {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    assert.ok(!(typeName in details), `two ${typeName} details`);
    details[typeName] = rpcRoot.lookupType(typeName).decode(any.value);
  }
  return { status, details };
}

function assertErrorInfo(err, reason) {
  const { status, details } = decodeStatusDetails(err);
  assert.equal(status.code, err.code);
  assert.equal(status.message, err.details);
  const info = details['google.rpc.ErrorInfo'];
  assert.ok(info, `no ErrorInfo among ${Object.keys(details)}`);
  assert.equal(info.domain, 'tokenauth');
  assert.match(info.reason, UPPER_SNAKE);
  if (reason !== undefined) assert.equal(info.reason, reason);
  return { info, details };
}

// --- the suite -------------------------------------------------------------------

let users; let tokens; let auth; let admin;

before(async () => {
  try {
    await startServer();
  } catch (e) {
    await stopServer().catch(() => {});
    throw e;
  }
  const creds = grpc.credentials.createInsecure();
  users = new v1.UserService(server.address, creds);
  tokens = new v1.TokenService(server.address, creds);
  auth = new v1.AuthService(server.address, creds);
  server.clients.push(users, tokens, auth);
  admin = basic('admin', server.adminPassword);
});

after(async () => {
  const tail = server.dir ? logTail() : '';
  const code = await stopServer();
  if (server.process) {
    assert.equal(code, 0, `tokenauth-server after SIGTERM: ${code}, want exit code 0\n` +
      `--- server output (${server.dir}) ---\n${tail}`);
    fs.rmSync(server.dir, { recursive: true, force: true });
  }
});

async function newUser() {
  const username = `node_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const { user } = await unary(users, 'CreateUser', { username, password }, admin);
  assert.equal(user.username, username);
  assert.ok(Number(user.id) > 0);
  return { user, caller: basic(username, password) };
}

function createToken(caller, name = 'ci', access = 'TOKEN_ACCESS_READ_ONLY') {
  return unary(tokens, 'CreateToken',
    { name, ttl: { seconds: 3600 }, permissions: { access } }, caller);
}

function authenticate(token, operation = 'OPERATION_READ') {
  return unary(auth, 'Authenticate', { token, operation });
}

test('create, authenticate and revoke a token', async () => {
  const { user, caller } = await newUser();
  const created = await createToken(caller);
  assert.match(created.value, /^tka_[0-9A-Za-z]{40}$/);
  assert.equal(created.token.name, 'ci');
  assert.equal(created.token.user_id, user.id);
  assert.equal(created.token.state, 'TOKEN_STATE_ACTIVE');
  assert.equal(created.token.permissions.access, 'TOKEN_ACCESS_READ_ONLY');
  assert.ok(created.token.hint.startsWith(`tka_${created.token.id}`));
  assert.ok(!created.token.hint.includes(created.value));

  const ok = await authenticate(created.value);
  assert.equal(ok.credential_kind, 'CREDENTIAL_KIND_ACCESS_TOKEN');
  assert.equal(ok.principal.user_id, user.id);
  assert.equal(ok.principal.username, user.username);
  assert.equal(ok.principal.admin, false);
  assert.equal(ok.token.id, created.token.id);

  await expectCode(authenticate(created.value, 'OPERATION_WRITE'), grpc.status.PERMISSION_DENIED);

  const revoked = await unary(tokens, 'RevokeToken', { id: created.token.id }, caller);
  assert.equal(revoked.token.state, 'TOKEN_STATE_REVOKED');
  assert.ok(revoked.token.revoke_time, 'revoke_time unset');

  const err = await expectCode(authenticate(created.value), grpc.status.UNAUTHENTICATED);
  assert.ok(!err.details.includes(created.value), 'the message echoes the token');
  assertErrorInfo(err, 'TOKEN_REVOKED');
});

test('empty name: INVALID_ARGUMENT with ErrorInfo and BadRequest for "name"', async () => {
  const { caller } = await newUser();
  const err = await expectCode(createToken(caller, ''), grpc.status.INVALID_ARGUMENT);
  assert.match(err.details, /name/);
  const { info, details } = assertErrorInfo(err, 'INVALID_ARGUMENT');
  assert.equal(info.metadata.field, 'name');
  const badRequest = details['google.rpc.BadRequest'];
  assert.ok(badRequest, `no BadRequest among ${Object.keys(details)}`);
  const violation = badRequest.field_violations.find((v) => v.field === 'name');
  assert.ok(violation, `no violation for "name": ${JSON.stringify(badRequest.field_violations)}`);
  assert.ok(violation.description.length > 0);
});

test('unknown id: NOT_FOUND', async () => {
  const { caller } = await newUser();
  const err = await expectCode(unary(tokens, 'GetToken', { id: 'AAAAAAAAAAAA' }, caller),
    grpc.status.NOT_FOUND);
  assertErrorInfo(err);
});

test('no credential: UNAUTHENTICATED', async () => {
  const err = await expectCode(unary(tokens, 'ListTokens', {}), grpc.status.UNAUTHENTICATED);
  assertErrorInfo(err);
});

test('malformed token: UNAUTHENTICATED, TOKEN_MALFORMED', async () => {
  const err = await expectCode(authenticate(`tka_${'A'.repeat(40)}`), grpc.status.UNAUTHENTICATED);
  assertErrorInfo(err, 'TOKEN_MALFORMED');
});
