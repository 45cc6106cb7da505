// tunnelToHbone(): carries one accepted TCP connection over an HBONE CONNECT stream. Bytes the
// client sends before the 200 stay buffered in the (paused) socket; if the CONNECT fails the
// client gets a TCP RST, never a silent close.
import type { Socket } from 'node:net';
import { isMeshError } from '../errors.js';
import { relay, type RelayResult } from '../net/relay.js';
import { buildConnectHeaders, type ConnectMetadata } from './connect-headers.js';
import type { HboneConnectOptions, HbonePool } from './pool.js';

export type TunnelResult =
  | ({ ok: true } & RelayResult)
  | { ok: false; status?: number; error: Error };

export async function tunnelToHbone(
  downstream: Socket,
  pool: HbonePool,
  target: Omit<HboneConnectOptions, 'headers'>,
  metadata?: Omit<ConnectMetadata, 'sourceIp' | 'sourcePort'>,
): Promise<TunnelResult> {
  downstream.pause();
  downstream.setNoDelay(true);
  const onEarlyError = (): void => undefined;
  downstream.on('error', onEarlyError);
  const headers = buildConnectHeaders({
    sourceIp: downstream.remoteAddress ?? '0.0.0.0',
    sourcePort: downstream.remotePort ?? 0,
    ...metadata,
  });
  try {
    const stream = await pool.connect({ ...target, headers });
    downstream.off('error', onEarlyError);
    if (downstream.destroyed) {
      stream.close();
      return { ok: false, error: new Error('downstream closed before the tunnel opened') };
    }
    const result = await relay(downstream, stream);
    return { ok: true, ...result };
  } catch (err) {
    if (!downstream.destroyed) downstream.resetAndDestroy();
    const status = isMeshError(err) ? (err as { status?: number }).status : undefined;
    return status === undefined ? { ok: false, error: err as Error } : { ok: false, status, error: err as Error };
  }
}
