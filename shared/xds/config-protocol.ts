// The config stream between the control plane and its proxies (gRPC bidi stream, JSON messages).
// A proxy subscribes with its node and kind, receives a snapshot then deltas, each versioned
// `{epoch, n}`, and acks or nacks each version. Reconnecting with its last version resumes with
// the deltas it missed when the server still has them (same epoch), else with a snapshot that
// the client applies as a diff, so its listeners see only real changes.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import type { Authorization, ModelChanges, Service, Workload } from '../config/model.js';
import type { WaypointResource } from '../config/waypoint-resources.js';
import { deserializeJson, serializeJson } from './json-codec.js';

export type ProxyKind = 'ztunnel' | 'waypoint';

export interface ConfigVersion {
  /** Changes whenever the control plane restarts: versions of different epochs do not compare. */
  readonly epoch: string;
  readonly n: number;
}

export type ClientMessage =
  | { readonly subscribe: { readonly node: string; readonly kind: ProxyKind; readonly lastVersion?: ConfigVersion } }
  | { readonly ack: { readonly version: ConfigVersion } }
  | { readonly nack: { readonly version: ConfigVersion; readonly error: string } };

export interface ModelPayload {
  readonly workloads: readonly Workload[];
  readonly services: readonly Service[];
  readonly authorizations: readonly Authorization[];
  /** Waypoint subscribers only: the L7 resources in force. */
  readonly waypointResources?: readonly WaypointResource[];
}

/** A change set with the config version it brings the proxy to. */
export interface VersionedChanges extends ModelChanges {
  readonly version: ConfigVersion;
}

export type ServerMessage =
  | { readonly snapshot: { readonly version: ConfigVersion } & ModelPayload }
  | { readonly delta: VersionedChanges };

const subscribe: MethodDefinition<ClientMessage, ServerMessage> = {
  path: '/ambit.config.v1.ConfigService/Subscribe',
  requestStream: true,
  responseStream: true,
  requestSerialize: serializeJson,
  requestDeserialize: deserializeJson<ClientMessage>,
  responseSerialize: serializeJson,
  responseDeserialize: deserializeJson<ServerMessage>,
};

export const configServiceDefinition = { subscribe } satisfies ServiceDefinition;

export function sameVersion(a: ConfigVersion | undefined, b: ConfigVersion | undefined): boolean {
  return a !== undefined && b !== undefined && a.epoch === b.epoch && a.n === b.n;
}
