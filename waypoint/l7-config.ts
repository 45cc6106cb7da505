// L7Config: the waypoint's compiled view of the L7 resources for the destinations it fronts —
// request authentication (JWT), authorization, and the route plan of each request. Rebuilt by
// WaypointState on every change; pure deciders only (runtime state such as load-balancer
// cursors, outlier ejections and circuit-breaker counts lives in the request handler).
import type { Service, Workload } from '../shared/config/model.js';
import type { TrafficPolicy } from '../shared/config/networking-resources.js';
import type { RequestHead } from '../shared/http/request-head.js';
import type { Identity } from '../shared/identity/spiffe.js';
import type { Destination } from './destination.js';
import type { AuthnResult } from './filters/jwt/request-authenticator.js';

/** RequestAuthentication's verdict on a request (waypoint/filters/jwt). */
export type Authn = AuthnResult;
export type ValidAuthn = Extract<AuthnResult, { kind: 'valid' }>;

export interface AuthzOutcome {
  readonly allowed: boolean;
  readonly policy?: string;
  readonly reason?: string;
  /** The deciding policy constrains request principals or JWT claims (a missing token → 401). */
  readonly needsRequestPrincipal?: boolean;
  readonly dryRun: readonly { readonly policy: string; readonly action: string; readonly matched: boolean }[];
}

export interface AuthzInput {
  readonly destination: Exclude<Destination, { kind: 'refuse' }>;
  readonly peer: Identity;
  readonly clientIp: string;
  /** Absent for TCP (L4 policy only; L7 rules fail closed). */
  readonly head?: RequestHead;
  readonly auth?: ValidAuthn;
}

/** Where a request goes: a service (its endpoints, maybe a subset) or one pod. */
export interface Backend {
  readonly service?: Service;
  readonly workload?: Workload;
  /** Service port (for a service) or the pod's port. */
  readonly port: number;
  readonly subset?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly trafficPolicy?: TrafficPolicy;
}

export type { RoutePlan } from './route/route-plan.js';
import type { RoutePlan } from './route/route-plan.js';

export interface L7Config {
  /** Synchronous when the keys are at hand (the common case), a promise while a JWKS is first fetched. */
  authenticate(destination: AuthzInput['destination'], head: RequestHead): Authn | Promise<Authn>;
  authorize(input: AuthzInput): AuthzOutcome;
  /** The route plan of a request to a service; undefined for pod-addressed traffic (no routes). */
  route(destination: AuthzInput['destination'], head: RequestHead, sourceNamespace: string | undefined, random: () => number): RoutePlan | undefined;
  /** For /config_dump. */
  describe(): unknown;
}

/** The destination itself as a backend: the service on its port, or the pod on its port. */
export function defaultBackend(destination: AuthzInput['destination']): Backend {
  return destination.kind === 'service' ? { service: destination.service, port: destination.port.servicePort } : { workload: destination.workload, port: destination.port };
}
