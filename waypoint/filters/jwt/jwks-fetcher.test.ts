import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../../shared/clock.js';
import type { RequestAuthenticationResource } from '../../../shared/config/security-resources.js';
import { JwksFetcher, defaultJwksRefreshIntervalMs } from './jwks-fetcher.js';
import { generateTestKey, jwksJson, signTestJwt } from './jwt-test-signer.js';
import { JwtStatus } from './jwt-status.js';
import { RequestAuthenticator } from './request-authenticator.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const issuer = 'https://keys.example';
const oldKey = generateTestKey('ES256', { kid: 'old' });
const newKey = generateTestKey('ES256', { kid: 'new' });
let handler: Handler;
let hits = 0;
let base = '';
const server = createServer((req, res) => {
  hits++;
  handler(req, res);
});

function serve(body: string, status = 200): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
}

function authnFor(uri: string, clock: ManualClock, fetcher: JwksFetcher): RequestAuthenticator {
  const policy: RequestAuthenticationResource = {
    kind: 'RequestAuthentication',
    meta: { name: 'remote', namespace: 'demo', labels: {}, annotations: {} },
    spec: { targetRefs: [], jwtRules: [{ issuer, audiences: [], jwksUri: uri, fromHeaders: [], fromParams: [], fromCookies: [], forwardOriginalToken: false, outputClaimToHeaders: [] }] },
  };
  return new RequestAuthenticator([policy], { clock, fetcher });
}

function request(token: string) {
  return { method: 'GET', path: '/', authority: 'svc', headers: [['authorization', `Bearer ${token}`]] as [string, string][] };
}

const oldToken = signTestJwt(oldKey, { iss: issuer, sub: 'a' });
const newToken = signTestJwt(newKey, { iss: issuer, sub: 'b' });

describe('JwksFetcher against a loopback JWKS server', () => {
  const fetchers: JwksFetcher[] = [];
  function fetcherWith(clock: ManualClock, extra: { timeoutMs?: number; maxResponseBytes?: number } = {}): JwksFetcher {
    const f = new JwksFetcher({ clock, retryMinMs: 1_000, retryMaxMs: 4_000, ...extra });
    fetchers.push(f);
    return f;
  }

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    hits = 0;
    handler = serve(jwksJson([oldKey]));
  });
  after(async () => {
    for (const f of fetchers) f.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fetches once and serves many verifications from the cache', async () => {
    const clock = new ManualClock();
    const fetcher = fetcherWith(clock);
    const authn = authnFor(`${base}/cache`, clock, fetcher);
    for (let i = 0; i < 20; i++) assert.equal((await authn.authenticate(request(oldToken))).kind, 'valid');
    assert.equal(hits, 1);
    assert.equal(authn.authenticateSync(request(oldToken))?.kind, 'valid', 'the sync path answers once keys are cached');
  });

  it('answers undefined on the sync path while the first fetch is in flight', async () => {
    const clock = new ManualClock();
    const fetcher = fetcherWith(clock);
    const uri = `${base}/pending`;
    const authn = authnFor(uri, clock, fetcher);
    assert.equal(authn.authenticateSync(request(oldToken)), undefined);
    assert.equal((await fetcher.whenSettled(uri)).state, 'ready');
    assert.equal(authn.authenticateSync(request(oldToken))?.kind, 'valid');
  });

  it('refetches after the refresh interval (20 min by default) and picks up a rotated key', async () => {
    const clock = new ManualClock();
    const fetcher = fetcherWith(clock);
    const uri = `${base}/rotate`;
    const authn = authnFor(uri, clock, fetcher);
    assert.equal((await authn.authenticate(request(oldToken))).kind, 'valid');
    handler = serve(jwksJson([newKey]));
    clock.advance(defaultJwksRefreshIntervalMs - 1);
    await fetcher.whenSettled(uri);
    assert.equal(hits, 1, 'no refetch before the interval');
    assert.equal((await authn.authenticate(request(newToken))).kind, 'invalid');
    clock.advance(1);
    await fetcher.whenSettled(uri);
    assert.equal(hits, 2);
    assert.equal((await authn.authenticate(request(newToken))).kind, 'valid');
    assert.equal((await authn.authenticate(request(oldToken))).kind, 'invalid', 'a key removed by the issuer stops verifying');
  });

  it('keeps the last good keys when a refresh fails, and retries with backoff', async () => {
    const clock = new ManualClock();
    const fetcher = fetcherWith(clock);
    const uri = `${base}/flaky`;
    const authn = authnFor(uri, clock, fetcher);
    assert.equal((await authn.authenticate(request(oldToken))).kind, 'valid');
    handler = serve('oops', 500);
    clock.advance(defaultJwksRefreshIntervalMs);
    await fetcher.whenSettled(uri);
    assert.equal(fetcher.stats(uri)?.lastError, 'status 500');
    assert.equal((await authn.authenticate(request(oldToken))).kind, 'valid');
    handler = serve('{"keys":[]}'); // parses, but holds no key: also a failure
    clock.advance(1_000);
    await fetcher.whenSettled(uri);
    assert.equal(hits, 3);
    assert.match(fetcher.stats(uri)?.lastError ?? '', /valid public key/);
    clock.advance(1_999);
    await fetcher.whenSettled(uri);
    assert.equal(hits, 3, 'the second retry waits twice as long');
    handler = serve(jwksJson([newKey]));
    clock.advance(1);
    await fetcher.whenSettled(uri);
    assert.equal(hits, 4);
    assert.equal((await authn.authenticate(request(newToken))).kind, 'valid');
    assert.deepEqual(fetcher.stats(uri), { attempts: 4, failures: 2 });
  });

  it('refuses tokens while no fetch has succeeded, then accepts once one does', async () => {
    handler = serve('down', 503);
    const clock = new ManualClock();
    const fetcher = fetcherWith(clock);
    const uri = `${base}/down`;
    const authn = authnFor(uri, clock, fetcher);
    const r = await authn.authenticate(request(oldToken));
    assert.equal(r.kind === 'invalid' && r.reason, JwtStatus.JwksFetchFail);
    handler = serve(jwksJson([oldKey]));
    clock.advance(1_000);
    await fetcher.whenSettled(uri);
    assert.equal((await authn.authenticate(request(oldToken))).kind, 'valid');
  });

  it('refuses a response over the size limit, declared or streamed', async () => {
    const clock = new ManualClock();
    const fetcher = fetcherWith(clock, { maxResponseBytes: 1_000 });
    const padded = JSON.stringify({ keys: [oldKey.publicJwk], pad: 'x'.repeat(2_000) });
    handler = serve(padded);
    assert.deepEqual(await fetcher.whenSettled(`${base}/big`), { state: 'failed', reason: `response of ${padded.length} bytes is over the 1000 byte limit` });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no content-length
      res.write(padded.slice(0, 600));
      res.end(padded.slice(600));
    };
    assert.deepEqual(await fetcher.whenSettled(`${base}/big-chunked`), { state: 'failed', reason: 'response is over the 1000 byte limit' });
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    handler = () => undefined; // never responds
    const clock = new ManualClock();
    const fetcher = fetcherWith(clock, { timeoutMs: 150 });
    assert.deepEqual(await fetcher.whenSettled(`${base}/hang`), { state: 'failed', reason: 'timed out' });
  });

  it('stops every timer on close()', async () => {
    const clock = new ManualClock();
    const fetcher = new JwksFetcher({ clock });
    await fetcher.whenSettled(`${base}/close`);
    assert.equal(clock.pendingTimers(), 1);
    fetcher.close();
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(fetcher.lookup(`${base}/close`).state, 'failed');
  });
});
