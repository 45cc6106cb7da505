import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHttpBackendConfig, buildHttpProxyConfig } from './nginx-l7-config.js';

describe('nginx L7 configs', () => {
  it('makes the backend listen on every address given, with one worker and no access log', () => {
    const conf = buildHttpBackendConfig({ prefix: '/p', listen: [{ host: '127.0.0.1', port: 1 }, { host: '127.9.2.11', port: 8080 }], body: 'x'.repeat(1024) });
    for (const line of ['daemon off;', 'worker_processes 1;', 'access_log off;', 'listen 127.0.0.1:1 backlog=4096;', 'listen 127.9.2.11:8080 backlog=4096;', `return 200 "${'x'.repeat(1024)}";`]) {
      assert.ok(conf.includes(line), line);
    }
  });

  it('refuses a body it cannot put in a return directive, and a backend with no address', () => {
    assert.throws(() => buildHttpBackendConfig({ prefix: '/p', listen: [{ host: '127.0.0.1', port: 1 }], body: 'a$b' }), /printable ASCII/);
    assert.throws(() => buildHttpBackendConfig({ prefix: '/p', listen: [], body: 'ab' }), /at least one listen/);
  });

  it('makes the reverse proxy reuse upstream connections (HTTP/1.1, empty Connection header, keepalive pool)', () => {
    const conf = buildHttpProxyConfig({ prefix: '/p', listen: { host: '127.0.0.1', port: 2 }, upstream: { host: '127.0.0.1', port: 1 }, keepalive: 64 });
    for (const line of ['listen 127.0.0.1:2 backlog=4096;', 'server 127.0.0.1:1; keepalive 64;', 'proxy_pass http://backend;', 'proxy_http_version 1.1;', 'proxy_set_header Connection "";']) {
      assert.ok(conf.includes(line), line);
    }
  });
});
