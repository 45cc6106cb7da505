import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectProtocol } from './protocol-detect.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('detectProtocol', () => {
  it('recognises the HTTP/2 preface, waiting for all of it', () => {
    assert.equal(detectProtocol(b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00')), 'http2');
    assert.equal(detectProtocol(b('PRI * HTTP/2')), undefined);
    assert.equal(detectProtocol(b('PRI * HTTP/2'), true), 'tcp');
  });

  it('recognises an HTTP/1.x request line, also with a lowercase method (refused later, never TCP)', () => {
    assert.equal(detectProtocol(b('GET /a?b=c HTTP/1.1\r\nHost: x\r\n')), 'http1');
    assert.equal(detectProtocol(b('POST / HTTP/1.0\n')), 'http1');
    assert.equal(detectProtocol(b('get / HTTP/1.1\r\n')), 'http1');
  });

  it('waits while a request line is incomplete', () => {
    assert.equal(detectProtocol(b('GE')), undefined);
    assert.equal(detectProtocol(b('GET /long/path')), undefined);
  });

  it('calls everything else TCP', () => {
    assert.equal(detectProtocol(b('\x16\x03\x01\x02\x00')), 'tcp'); // a TLS ClientHello
    assert.equal(detectProtocol(b('SSH-2.0-OpenSSH_9.2\r\n')), 'tcp');
    assert.equal(detectProtocol(b('GET / HTTP/2.0\r\n')), 'tcp');
    assert.equal(detectProtocol(b('hello world\n')), 'tcp');
    assert.equal(detectProtocol(b(`GET /${'a'.repeat(9000)}`)), 'tcp');
  });
});
