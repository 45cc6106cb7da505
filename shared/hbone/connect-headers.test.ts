import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBaggage, buildConnectHeaders, buildForwarded, connectRequestFields, newTraceparent } from './connect-headers.js';

describe('HBONE CONNECT headers', () => {
  it('names the source address in forwarded, and the service host when known', () => {
    assert.equal(buildForwarded({ sourceIp: '10.0.0.5', sourcePort: 4242 }), 'for="10.0.0.5:4242"');
    assert.equal(buildForwarded({ sourceIp: 'fd00::5', sourcePort: 1, serviceHostname: 'echo.demo.svc.cluster.local' }),
      'for="[fd00::5]:1";host=echo.demo.svc.cluster.local');
  });

  it('drops a service host that could break the header', () => {
    assert.equal(buildForwarded({ sourceIp: '10.0.0.5', sourcePort: 1, serviceHostname: 'a;for=evil' }), 'for="10.0.0.5:1"');
  });

  it('writes baggage with the OpenTelemetry keys ztunnel uses', () => {
    assert.equal(
      buildBaggage({ clusterName: 'Kubernetes', namespace: 'demo', workloadKind: 'deployment', workloadName: 'echo-v1', serviceName: 'echo', serviceVersion: 'v1' }),
      'k8s.cluster.name=Kubernetes,k8s.namespace.name=demo,k8s.deployment.name=echo-v1,service.name=echo,service.version=v1',
    );
  });

  it('makes a W3C traceparent that differs per connection', () => {
    const a = newTraceparent();
    assert.match(a, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.notEqual(a, newTraceparent());
  });

  it('includes forwarded and traceparent always, baggage only when there is some', () => {
    const h = buildConnectHeaders({ sourceIp: '127.0.0.1', sourcePort: 1 });
    assert.deepEqual(Object.keys(h).sort(), ['forwarded', 'traceparent']);
    assert.ok(buildConnectHeaders({ sourceIp: '127.0.0.1', sourcePort: 1, baggage: { namespace: 'x' } }).baggage);
  });

  it('gives the lean engine the fields node:http2 would send: lowercase names, strings, pseudo-headers fixed', () => {
    assert.deepEqual(connectRequestFields('10.0.0.1:80', { 'X-Trace': 'a', 'x-n': 5, 'x-list': ['a', 'b'], ':authority': 'evil:1', ':path': '/', gone: undefined }), {
      ':method': 'CONNECT',
      ':authority': '10.0.0.1:80',
      'x-trace': 'a',
      'x-n': '5',
      'x-list': 'a, b',
    });
    assert.deepEqual(Object.keys(connectRequestFields('10.0.0.1:80', { forwarded: 'for="1.2.3.4:5"' })), [':method', ':authority', 'forwarded'], 'pseudo-headers first');
  });
});
