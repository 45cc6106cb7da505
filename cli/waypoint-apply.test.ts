import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDocument } from '../shared/config/decode.js';
import { waypointFor } from '../shared/config/gateway-decoders.js';
import type { GatewayResource } from '../shared/config/gateway-resources.js';
import { parseYamlDocuments } from '../shared/config/yaml-documents.js';
import { buildWaypointGateway, formatWaypointGateway } from './waypoint-apply.js';

function decodePrinted(req: Parameters<typeof buildWaypointGateway>[0]): GatewayResource {
  const built = buildWaypointGateway(req);
  assert.ok('gateway' in built, 'error' in built ? built.error : '');
  const parsed = parseYamlDocuments(formatWaypointGateway(built.gateway), 'printed');
  assert.deepEqual(parsed.errors, []);
  assert.equal(parsed.documents.length, 1);
  const decoded = decodeDocument(parsed.documents[0]!.value, { source: 'printed' });
  assert.deepEqual(decoded.errors, []);
  assert.equal(decoded.resource?.kind, 'Gateway');
  return decoded.resource as GatewayResource;
}

describe('buildWaypointGateway', () => {
  it('prints a Gateway that the config decoder accepts as the waypoint of the service account', () => {
    const gw = decodePrinted({ namespace: 'shop', serviceAccount: 'reviews' });
    assert.equal(gw.meta.name, 'reviews');
    assert.equal(gw.meta.namespace, 'shop');
    assert.deepEqual(waypointFor(gw), { serviceAccount: 'reviews' });
  });

  it('uses --name for the Gateway and keeps the account in the annotation', () => {
    const gw = decodePrinted({ namespace: 'shop', serviceAccount: 'reviews.v2', name: 'reviews-wp' });
    assert.equal(gw.meta.name, 'reviews-wp');
    assert.deepEqual(waypointFor(gw), { serviceAccount: 'reviews.v2' });
  });

  it('refuses a default name that cannot name the waypoint Service, and asks for --name', () => {
    const r = buildWaypointGateway({ namespace: 'shop', serviceAccount: 'reviews.v2' });
    assert.ok('error' in r);
    assert.match(r.error, /--name/);
  });

  it('refuses a name whose -istio-waypoint Service would exceed 63 characters', () => {
    assert.ok('gateway' in buildWaypointGateway({ namespace: 'shop', serviceAccount: 'a', name: 'x'.repeat(48) }));
    const r = buildWaypointGateway({ namespace: 'shop', serviceAccount: 'a', name: 'x'.repeat(49) });
    assert.ok('error' in r && /at most 48/.test(r.error));
  });

  it('refuses invalid namespace and service account names with the reason', () => {
    const ns = buildWaypointGateway({ namespace: 'Shop', serviceAccount: 'reviews' });
    assert.ok('error' in ns && /namespace "Shop"/.test(ns.error));
    const sa = buildWaypointGateway({ namespace: 'shop', serviceAccount: 'rev_iews' });
    assert.ok('error' in sa && /service account "rev_iews"/.test(sa.error));
  });
});
