import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBackendConfig, buildStreamClientConfig, buildStreamServerConfig } from './nginx-config.js';

const cert = { keyPem: '/c/key.pem', chainPem: '/c/cert-chain.pem', rootPem: '/c/root-cert.pem' };

describe('nginx configs', () => {
  it('keeps every instance in its own prefix, in the foreground, with one worker', () => {
    const conf = buildBackendConfig({ prefix: '/p', port: 1, smallBody: 'x'.repeat(64), bulkRoot: '/b' });
    for (const line of ['daemon off;', 'worker_processes 1;', 'pid /p/nginx.pid;', 'error_log /p/error.log warn;', 'listen 127.0.0.1:1 backlog=4096;']) {
      assert.ok(conf.includes(line), line);
    }
    assert.ok(!conf.includes('load_module'));
  });

  it('makes the client half speak TLS 1.3 with the client certificate and session reuse', () => {
    const conf = buildStreamClientConfig({ prefix: '/p', streamModule: '/m/stream.so', listenPort: 1, serverPort: 2, cert });
    for (const line of ['load_module /m/stream.so;', 'proxy_pass 127.0.0.1:2;', 'proxy_ssl on;', 'proxy_ssl_protocols TLSv1.3;',
      'proxy_ssl_certificate /c/cert-chain.pem;', 'proxy_ssl_certificate_key /c/key.pem;', 'proxy_ssl_session_reuse on;']) {
      assert.ok(conf.includes(line), line);
    }
  });

  it('makes the server half require a client certificate from the mesh root', () => {
    const conf = buildStreamServerConfig({ prefix: '/p', listenPort: 2, backendPort: 3, cert });
    for (const line of ['listen 127.0.0.1:2 ssl backlog=4096;', 'ssl_verify_client on;', 'ssl_client_certificate /c/root-cert.pem;', 'ssl_protocols TLSv1.3;', 'proxy_pass 127.0.0.1:3;']) {
      assert.ok(conf.includes(line), line);
    }
  });

  it('refuses a response body it cannot quote', () => {
    assert.throws(() => buildBackendConfig({ prefix: '/p', port: 1, smallBody: 'a"b', bulkRoot: '/b' }), /cannot quote/);
  });
});
