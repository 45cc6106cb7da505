// l7Compiler(): builds a waypoint's L7Config from the model and the L7 resources, once per
// config change — the authorization attached to this waypoint (authz-config.ts), request
// authentication, and the route tables of the services it fronts.
import type { ConfigError } from '../shared/config/config-error.js';
import type { ModelIndex } from '../shared/config/model-index.js';
import type { WaypointResources } from '../shared/config/waypoint-resources.js';
import { AuthzConfig } from './authz-config.js';
import type { L7Config } from './l7-config.js';
import { buildRoutePlan } from './route/route-plan.js';
import { buildRouteTables } from './route/route-table.js';

export interface L7CompilerOptions {
  /** The waypoint's Gateway. */
  readonly gateway: { readonly namespace: string; readonly name: string };
  readonly rootNamespace?: string;
}

export function l7Compiler(opts: L7CompilerOptions, onWarnings: (w: readonly ConfigError[]) => void = () => undefined): (index: ModelIndex, resources: WaypointResources) => L7Config {
  return (index, resources) => {
    const authz = new AuthzConfig(resources.authorizationPolicies, opts.gateway, opts.rootNamespace);
    const routes = buildRouteTables(resources, index);
    if (routes.warnings.length > 0) onWarnings(routes.warnings);
    return {
      authenticate: async () => ({ kind: 'none' }),
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
