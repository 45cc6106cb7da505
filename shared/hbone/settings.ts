// HBONE tuning in one place, with ztunnel's values (istio-ambient-facts §1.2–§1.5) as defaults.
import type { Settings } from 'node:http2';
import type { H2SessionOptions } from '../h2/h2-session.js';

export const HboneDefaults = {
  port: 15008,
  streamWindowBytes: 4 * 1024 * 1024,
  connectionWindowBytes: 16 * 1024 * 1024,
  maxFrameBytes: 1024 * 1024,
  clientMaxHeaderListBytes: 16 * 1024,
  serverMaxHeaderListBytes: 64 * 1024,
  serverMaxConcurrentStreams: 200,
  poolMaxStreamsPerSession: 100,
  /** Node's maxSessionMemory, in MB: with 4/16 MiB windows the 10 MB default throttles bulk transfers. */
  maxSessionMemoryMb: 64,
  maxSessionInvalidFrames: 100,
  maxSessionRejectedStreams: 100,
  maxOutstandingPings: 10,
  maxSettings: 32,
  handshakeTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  pingIntervalMs: 10_000,
  pingTimeoutMs: 20_000,
  poolIdleTimeoutMs: 5 * 60_000,
  /** Server: a session with no activity at all (not even PINGs) for this long is closed. */
  serverIdleTimeoutMs: 10 * 60_000,
  maxServerConnections: 20_000,
  /** After GOAWAY (drain, idle), in-flight streams get this long before the session is destroyed. */
  closeGraceMs: 30_000,
  /** Envoy's premature-reset guard: a stream reset by the peer within 1 s counts as premature... */
  prematureResetWindowMs: 1_000,
  /** ...and once this many streams were opened, more than half premature closes the session. */
  prematureResetMinStreams: 500,
  /** Streams a session may open in one event-loop turn before the rest are refused (Envoy's max_requests_per_io_cycle idea). */
  maxStreamsPerTick: 200,
  /** PING + SETTINGS frames a peer may send per second before its session is closed. */
  maxControlFramesPerSecond: 200,
  tcpKeepAliveMs: 180_000,
} as const;

export function serverH2Settings(): Settings {
  return {
    enablePush: false,
    initialWindowSize: HboneDefaults.streamWindowBytes,
    maxFrameSize: HboneDefaults.maxFrameBytes,
    maxConcurrentStreams: HboneDefaults.serverMaxConcurrentStreams,
    maxHeaderListSize: HboneDefaults.serverMaxHeaderListBytes,
  };
}

export function clientH2Settings(): Settings {
  return {
    enablePush: false,
    initialWindowSize: HboneDefaults.streamWindowBytes,
    maxFrameSize: HboneDefaults.maxFrameBytes,
    maxHeaderListSize: HboneDefaults.clientMaxHeaderListBytes,
  };
}

/** Session-level limits shared by both ends (Node http2 options other than SETTINGS). */
export const sessionLimits = {
  maxSessionMemory: HboneDefaults.maxSessionMemoryMb,
  maxSessionInvalidFrames: HboneDefaults.maxSessionInvalidFrames,
  maxSessionRejectedStreams: HboneDefaults.maxSessionRejectedStreams,
  maxOutstandingPings: HboneDefaults.maxOutstandingPings,
  maxSettings: HboneDefaults.maxSettings,
  maxHeaderListPairs: 128,
} as const;

/** Which HTTP/2 implementation carries HBONE: shared/h2 (`lean`) or node:http2 (`node`). */
export type HboneEngine = 'lean' | 'node';
export const hboneEngines: readonly HboneEngine[] = ['lean', 'node'];

/** The same SETTINGS and limits for the lean engine (shared/h2/h2-session.ts). */
export function leanSessionOptions(role: 'client' | 'server'): H2SessionOptions {
  return {
    role,
    settings: {
      initialWindowSize: HboneDefaults.streamWindowBytes,
      maxFrameSize: HboneDefaults.maxFrameBytes,
      maxHeaderListSize: role === 'server' ? HboneDefaults.serverMaxHeaderListBytes : HboneDefaults.clientMaxHeaderListBytes,
      ...(role === 'server' ? { maxConcurrentStreams: HboneDefaults.serverMaxConcurrentStreams } : {}),
    },
    connectionWindowBytes: HboneDefaults.connectionWindowBytes,
    maxHeldBytes: HboneDefaults.maxSessionMemoryMb * 1024 * 1024,
    maxOutstandingPings: HboneDefaults.maxOutstandingPings,
    maxSettingsEntries: HboneDefaults.maxSettings,
  };
}
