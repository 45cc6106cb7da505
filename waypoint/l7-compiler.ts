// l7Compiler(): builds a waypoint's L7Config from the model and the L7 resources, once per
// config change — the authorization attached to this waypoint (authz-config.ts), request
// authentication, and the route tables of the services it fronts.
import type { ConfigError } from '../shared/config/config-error.js';
import type { ModelIndex } from '../shared/config/model-index.js';
import type { WaypointResources } from '../shared/config/waypoint-resources.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { waypointPolicies } from '../shared/authz/waypoint-policies.js';
import type { Logger } from '../shared/log.js';
import { AuthzConfig } from './authz-config.js';
import type { JwksFetcher } from './filters/jwt/jwks-fetcher.js';
import { RequestAuthenticator } from './filters/jwt/request-authenticator.js';
import type { L7Config } from './l7-config.js';
import { buildRoutePlan } from './route/route-plan.js';
import { buildRouteTables } from './route/route-table.js';

export interface L7CompilerOptions {
  /** The waypoint's Gateway. */
  readonly gateway: { readonly namespace: string; readonly name: string };
  readonly rootNamespace?: string;
  /** Shared across compiles, so remote key sets stay cached and refreshed. */
  readonly jwksFetcher?: JwksFetcher;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const noAuthn = { kind: 'none', headerOps: { remove: [], set: [] } } as const;

export function l7Compiler(opts: L7CompilerOptions, onWarnings: (w: readonly ConfigError[]) => void = () => undefined): (index: ModelIndex, resources: WaypointResources) => L7Config {
  return (index, resources) => {
    const authz = new AuthzConfig(resources.authorizationPolicies, opts.gateway, opts.rootNamespace);
    const authenticators = new Map<string, RequestAuthenticator>();
    const authenticatorFor = (destination: Parameters<L7Config['authenticate']>[0]): RequestAuthenticator => {
      const service = destination.kind === 'service' ? { namespace: destination.service.namespace, name: destination.service.name } : undefined;
      const key = service ? `${service.namespace}/${service.name}` : '';
      let a = authenticators.get(key);
      if (!a) {
        const policies = waypointPolicies(resources.requestAuthentications, { gateway: opts.gateway, ...(service ? { service } : {}), ...(opts.rootNamespace ? { rootNamespace: opts.rootNamespace } : {}) });
        a = new RequestAuthenticator(policies, { clock: opts.clock ?? systemClock, ...(opts.jwksFetcher ? { fetcher: opts.jwksFetcher } : {}), ...(opts.logger ? { logger: opts.logger } : {}) });
        authenticators.set(key, a);
      }
      return a;
    };
    const routes = buildRouteTables(resources, index);
    if (routes.warnings.length > 0) onWarnings(routes.warnings);
    return {
      authenticate: (destination, head) => {
        const a = authenticatorFor(destination);
        if (a.empty) return noAuthn;
        return a.authenticateSync(head) ?? a.authenticate(head);
      },
      authorize: (input) => authz.authorize(input),
      route: (destination, head, sourceNamespace, random) => {
        if (destination.kind !== 'service') return undefined;
        const table = routes.tables.get(`${destination.service.namespace}/${destination.service.hostname}`);
        return buildRoutePlan(table, { port: destination.port.servicePort, head, ...(sourceNamespace ? { sourceNamespace } : {}), random });
      },
      describe: () => ({ authorization: authz.describe(), routes: [...routes.tables.keys()], warnings: routes.warnings.length }),
    };
  };
}
