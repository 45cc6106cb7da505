// HboneHarness: one HBONE server under attack plus what the fault tests check around it: a
// "victim" echo backend the attacks aim at (it must receive nothing), a separate "control" echo
// reached through a normal HbonePool (it must keep working), and the leak check (0 connections
// once every client is closed).
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { HbonePool } from '../../shared/hbone/pool.js';
import type { HboneServer, HboneServerOptions } from '../../shared/hbone/server.js';
import { silentLogger } from '../../shared/log.js';
import { controlTunnel } from './control-tunnel.js';
import { eventually, startEcho, startHboneServer, type Listening, type TestMesh } from './mesh.js';
import { RawH2Client } from './raw-h2-client.js';

type Echo = Listening & { received(): number };

/**
 * Server keepalive (HboneServerOptions.pingIntervalMs / pingTimeoutMs) for tests that can leave
 * an nghttp2-terminated ("zombie") session behind: after nghttp2 sends its own GOAWAY, Node 20
 * stops reading and never closes the socket, and only a missed PING ACK reveals it.
 */
export const fastKeepalive = { pingIntervalMs: 200, pingTimeoutMs: 500 };

export type HarnessServerOptions = Partial<HboneServerOptions> & Partial<typeof fastKeepalive>;

/**
 * Holds the server options for the suite being run: a suite that calls useKeepalive() gets
 * fastKeepalive for its tests, the others run the server with its defaults.
 */
export class SuiteOptions {
  current: HarnessServerOptions = {};

  /** Call inside describe(): turns fastKeepalive on for that suite only. */
  useKeepalive(): void {
    before(() => {
      this.current = fastKeepalive;
    });
    after(() => {
      this.current = {};
    });
  }
}

export class HboneHarness {
  readonly mesh: TestMesh;
  readonly server: Listening & { hbone: HboneServer };
  /** Where attacks point their CONNECTs: a reject must leave it at 0 bytes. */
  readonly victim: Echo;
  /** Reached only by the control tunnel. */
  readonly control: Echo;
  /** A normal outbound pool; replaced by a fresh one whenever closeClients() closes it. */
  pool: HbonePool;
  private readonly rawClients = new Set<RawH2Client>();
  private readonly cleanups: (() => void)[] = [];

  private constructor(mesh: TestMesh, server: Listening & { hbone: HboneServer }, victim: Echo, control: Echo) {
    this.mesh = mesh;
    this.server = server;
    this.victim = victim;
    this.control = control;
    this.pool = new HbonePool({ logger: silentLogger() });
  }

  static async start(mesh: TestMesh, opts: HarnessServerOptions = {}): Promise<HboneHarness> {
    const [server, victim, control] = await Promise.all([startHboneServer(mesh.serverCert, opts), startEcho(), startEcho()]);
    return new HboneHarness(mesh, server, victim, control);
  }

  get hbone(): HboneServer {
    return this.server.hbone;
  }

  get port(): number {
    return this.server.port;
  }

  victimAuthority(): string {
    return `127.0.0.1:${this.victim.port}`;
  }

  /** A raw HTTP/2 client with the mesh client certificate; destroyed by closeClients(). */
  async rawClient(opts: { preface?: boolean; ackSettings?: boolean; ackPings?: boolean } = {}): Promise<RawH2Client> {
    const client = await RawH2Client.open({
      port: this.port,
      keyPem: this.mesh.clientCert.keyPem,
      certPem: this.mesh.clientCert.chainPem,
      caPem: this.mesh.ca.rootsPem,
      ...opts,
    });
    this.rawClients.add(client);
    return client;
  }

  /** Registers something for closeClients() to tear down (sockets, sessions the test opened). */
  onCloseClients(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Throws unless a normal pooled tunnel through the same server still echoes bytes. */
  async assertServing(payload = 'still serving'): Promise<void> {
    await controlTunnel(this.pool, this.mesh, this.port, this.control.port, payload);
  }

  /** Closes every client the test made, then requires the server to report 0 connections. */
  async assertReleased(): Promise<void> {
    await this.closeClients();
    const released = await eventually(() => this.server.connections() === 0 && this.hbone.connectionCount() === 0);
    assert.ok(released, `server still holds ${this.server.connections()} TCP / ${this.hbone.connectionCount()} HBONE connections (${this.hbone.sessionCount()} sessions) after every client closed`);
  }

  async closeClients(): Promise<void> {
    for (const c of this.rawClients) c.destroy();
    this.rawClients.clear();
    for (const fn of this.cleanups.splice(0)) fn();
    await this.pool.close();
    this.pool = new HbonePool({ logger: silentLogger() });
  }

  async close(): Promise<void> {
    await this.closeClients();
    // Let the server notice its clients are gone before destroying it: destroying a server
    // session whose client just vanished with a relayed stream open can leave Node 20's http2
    // spinning at exit (see the test report). Zombie sessions never release; 1 s is enough.
    await eventually(() => this.hbone.connectionCount() === 0, 1000);
    await Promise.all([this.server.close(), this.victim.close(), this.control.close()]);
  }
}
