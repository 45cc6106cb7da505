import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeGrpcMessage, grpcStatusCode, httpToGrpcStatus, isGrpcContentType } from './grpc-local-reply.js';

describe('gRPC local replies', () => {
  it('maps HTTP statuses to gRPC statuses as Envoy does', () => {
    assert.deepEqual([400, 401, 403, 404, 429, 502, 503, 504, 500, 418].map(httpToGrpcStatus), [13, 16, 7, 12, 14, 14, 14, 14, 2, 2]);
  });

  it('recognises gRPC content types, not gRPC-Web or others', () => {
    assert.equal(isGrpcContentType('application/grpc'), true);
    assert.equal(isGrpcContentType('application/grpc+proto'), true);
    assert.equal(isGrpcContentType('application/grpc;charset=utf-8'), true);
    assert.equal(isGrpcContentType('application/grpc-web'), false);
    assert.equal(isGrpcContentType('application/json'), false);
    assert.equal(isGrpcContentType(undefined), false);
  });

  it('percent-encodes grpc-message outside printable ASCII, and the percent sign', () => {
    assert.equal(encodeGrpcMessage('no healthy upstream'), 'no healthy upstream');
    assert.equal(encodeGrpcMessage('100% é\n'), '100%25 %C3%A9%0A');
  });
  it('reads a fault abort grpcStatus given by name or by number; an unknown name is UNKNOWN', () => {
    assert.equal(grpcStatusCode('UNAVAILABLE'), 14);
    assert.equal(grpcStatusCode('permission_denied'), 7);
    assert.equal(grpcStatusCode('4'), 4);
    assert.equal(grpcStatusCode('NO_SUCH_STATUS'), 2);
  });
});
