// `ambit x …`: tools that explain the mesh without traffic.
//   ambit x authz check --config FILE --at ztunnel|waypoint --request JSON
// prints {"decision":"ALLOW"|"DENY","policy":"ns/name"|null,"reason":"…"} (at the waypoint also
// "dryRun" and "audit" when not empty); exit 0 for either decision, 2 for invalid input
// (unreadable or invalid config, malformed request, unknown workload or service, no waypoint).
import type { Command } from 'commander';
import type { ConfigStore } from '../shared/config/config-store.js';
import { silentLogger } from '../shared/log.js';

class InvalidInput extends Error {}

interface CheckRequest {
  readonly source?: { readonly principal?: string | null; readonly ip?: string };
  readonly destination?: { readonly workload?: string; readonly service?: string; readonly ip?: string; readonly port?: number };
  /** --at waypoint only. */
  readonly http?: { readonly method?: unknown; readonly path?: unknown; readonly host?: unknown; readonly headers?: unknown };
  readonly auth?: { readonly principal?: unknown; readonly audiences?: unknown; readonly presenter?: unknown; readonly claims?: unknown };
  /** --at waypoint only: remote.ip when XFF is trusted; default the source IP. */
  readonly remoteIp?: unknown;
}

interface CheckOutput {
  decision: 'ALLOW' | 'DENY';
  policy: string | null;
  reason: string;
  dryRun?: readonly { policy: string; action: string; matched: boolean }[];
  audit?: readonly string[];
}

export function registerXCommands(program: Command): void {
  const x = program.command('x').description('experimental tools that explain the mesh');
  const authz = x.command('authz').description('authorization tools');
  authz.command('check')
    .description('explain the authorization decision for one connection (ztunnel, L4) or request (waypoint, L7), without traffic')
    .requiredOption('--config <path>', 'mesh YAML file or folder')
    .option('--at <proxy>', 'where the decision is made: ztunnel or waypoint', 'ztunnel')
    .requiredOption('--request <json>', '{"source":{"principal":"spiffe://…"|null,"ip":"…"},"destination":{"workload":"ns/pod"|"service":"ns/name"|"ip":"…","port":N}'
      + ',"http":{"method","path","host","headers":[[n,v]]},"auth":{"principal":"iss/sub","audiences":[],"presenter","claims":{}}} (http, auth: waypoint only)')
    .option('--trust-domain <td>', 'SPIFFE trust domain', 'cluster.local')
    .action(async (o: { config: string; at: string; request: string; trustDomain: string }) => {
      try {
        process.stdout.write(`${JSON.stringify(await check(o))}\n`);
      } catch (err) {
        if (!(err instanceof InvalidInput)) throw err;
        process.stderr.write(`ambit x authz check: ${err.message}\n`);
        process.exitCode = 2;
      }
    });
}

async function check(o: { config: string; at: string; request: string; trustDomain: string }): Promise<CheckOutput> {
  if (o.at !== 'ztunnel' && o.at !== 'waypoint') throw new InvalidInput(`--at ${JSON.stringify(o.at)}: must be ztunnel or waypoint`);
  let req: CheckRequest;
  try {
    req = JSON.parse(o.request) as CheckRequest;
  } catch (err) {
    throw new InvalidInput(`--request is not JSON: ${(err as Error).message}`);
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) throw new InvalidInput('--request must be a JSON object');
  const store = await loadConfig(o.config, o.trustDomain);
  const dst = req.destination;
  if (!dst || typeof dst.port !== 'number' || !Number.isInteger(dst.port) || dst.port < 1 || dst.port > 65535) throw new InvalidInput('destination.port must be a port number');
  const peer = await sourcePeer(req);
  const sourceIp = req.source?.ip ?? '0.0.0.0';
  return o.at === 'waypoint' ? checkWaypoint(store, req, { port: dst.port, sourceIp, ...(peer ? { peer } : {}) }) : checkZtunnel(store, req, { port: dst.port, sourceIp, ...(peer ? { peer } : {}) });
}

async function loadConfig(path: string, trustDomain: string): Promise<ConfigStore> {
  const [{ ConfigStore: Store }, { FileSource }, { formatConfigError }] = await Promise.all([
    import('../shared/config/config-store.js'), import('../shared/config/file-source.js'), import('../shared/config/config-error.js'),
  ]);
  const store = new Store({ trustDomain });
  const files = new FileSource({ path, store, logger: silentLogger() });
  try {
    await files.start();
  } catch (err) {
    throw new InvalidInput(`cannot read ${path}: ${(err as Error).message}`);
  } finally {
    files.close();
  }
  if (store.errors.length > 0) throw new InvalidInput(`the config has errors:\n${store.errors.map((e) => `  ${formatConfigError(e)}`).join('\n')}`);
  return store;
}

type Identity = import('../shared/identity/spiffe.js').Identity;
type Workload = import('../shared/config/model.js').Workload;
interface Resolved { readonly port: number; readonly sourceIp: string; readonly peer?: Identity }

async function sourcePeer(req: CheckRequest): Promise<Identity | undefined> {
  const principal = req.source?.principal;
  if (principal === undefined || principal === null) return undefined;
  const { parseIdentity } = await import('../shared/identity/spiffe.js');
  try {
    return parseIdentity(principal);
  } catch (err) {
    throw new InvalidInput(`source.principal: ${(err as Error).message}`);
  }
}

function findWorkload(store: ConfigStore, dst: NonNullable<CheckRequest['destination']>): Workload | undefined {
  if (typeof dst.workload === 'string') {
    const [ns, name] = dst.workload.split('/');
    const w = store.model.workloads.find((x) => x.namespace === ns && x.name === name);
    if (!w) throw new InvalidInput(`no workload ${dst.workload} in the config`);
    return w;
  }
  return typeof dst.ip === 'string' ? store.index.workloadByIp.get(dst.ip) : undefined;
}

async function checkZtunnel(store: ConfigStore, req: CheckRequest, r: Resolved): Promise<CheckOutput> {
  const [{ checkInbound, explainCheck }, { policiesFor }] = await Promise.all([import('../ztunnel/inbound/inbound-check.js'), import('../shared/authz/evaluate.js')]);
  const view = { index: store.index, authorizations: new Map(store.model.authorizations.map((a) => [a.name, a])), version: 'check' };
  const dst = req.destination!;
  if (typeof dst.workload !== 'string' && typeof dst.ip !== 'string') throw new InvalidInput('destination needs workload ("ns/pod") or ip');
  const workload = findWorkload(store, dst);
  if (!workload) throw new InvalidInput(`no workload with IP ${String(dst.ip)} in the config`);
  const destinationIp = typeof dst.ip === 'string' ? dst.ip : workload.addresses[0];
  if (destinationIp === undefined) throw new InvalidInput(`workload ${workload.namespace}/${workload.name} has no IP`);
  if (workload.tunnelProtocol !== 'HBONE') throw new InvalidInput(`workload ${workload.namespace}/${workload.name} is not enrolled in the mesh: ztunnel does not see its traffic`);
  const result = checkInbound(view, undefined, { ...(r.peer ? { peer: r.peer } : {}), sourceIp: r.sourceIp, destinationIp, destinationPort: r.port });
  const applying = policiesFor(view.authorizations, workload).length;
  return {
    decision: result.ok ? 'ALLOW' : 'DENY',
    policy: (result.ok ? result.decision.policy : result.policy) ?? null,
    reason: explainCheck(result, applying),
  };
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The request head from `http`; defaults: GET, `/`, the destination's host name (or IP) and port. */
function requestHead(http: CheckRequest['http'], defaultHost: string): import('../shared/http/request-head.js').RequestHead {
  const h = http ?? {};
  if (typeof h !== 'object' || Array.isArray(h)) throw new InvalidInput('http must be an object');
  for (const k of ['method', 'path', 'host'] as const) if (h[k] !== undefined && typeof h[k] !== 'string') throw new InvalidInput(`http.${k} must be a string`);
  const headers = h.headers ?? [];
  if (!Array.isArray(headers) || !headers.every((e): e is [string, string] => isStringList(e) && e.length === 2)) throw new InvalidInput('http.headers must be a list of [name, value] pairs');
  return { method: (h.method as string | undefined) ?? 'GET', path: (h.path as string | undefined) ?? '/', authority: (h.host as string | undefined) ?? defaultHost, headers: headers.map(([n, v]) => [n.toLowerCase(), v] as const) };
}

function requestAuth(auth: CheckRequest['auth']): import('../shared/authz/request-auth.js').RequestAuth | undefined {
  if (auth === undefined || auth === null) return undefined;
  if (typeof auth !== 'object' || Array.isArray(auth)) throw new InvalidInput('auth must be an object');
  if (typeof auth.principal !== 'string' || !/^.+\/[^/]+$/.test(auth.principal)) throw new InvalidInput('auth.principal must be "iss/sub"');
  const audiences = auth.audiences ?? [];
  if (!isStringList(audiences)) throw new InvalidInput('auth.audiences must be a list of strings');
  if (auth.presenter !== undefined && typeof auth.presenter !== 'string') throw new InvalidInput('auth.presenter must be a string');
  const claims = auth.claims ?? {};
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new InvalidInput('auth.claims must be an object');
  return { principal: auth.principal, audiences, ...(auth.presenter !== undefined ? { presenter: auth.presenter } : {}), claims: claims as Record<string, unknown> };
}

/**
 * The decision of the waypoint in front of the destination: a service (`ns/name`, its host name,
 * or its VIP as `ip`) or a workload (`ns/pod` or its IP, pod-addressed). Requests the waypoint
 * refuses before authorization (checkRequestHead: 400) are reported as DENY with that reason.
 */
async function checkWaypoint(store: ConfigStore, req: CheckRequest, r: Resolved): Promise<CheckOutput> {
  const [{ checkRequestHead }, { evaluateHttp }, { waypointPolicies }] = await Promise.all([
    import('../shared/http/check-request-head.js'), import('../shared/authz/evaluate-http.js'), import('../shared/authz/waypoint-policies.js'),
  ]);
  const dst = req.destination!;
  const service = typeof dst.service === 'string'
    ? store.model.services.find((s) => `${s.namespace}/${s.name}` === dst.service || s.hostname === dst.service)
    : typeof dst.ip === 'string' ? store.model.services.find((s) => s.addresses.includes(dst.ip!)) : undefined;
  if (typeof dst.service === 'string' && !service) throw new InvalidInput(`no service ${dst.service} in the config`);
  let workload: Workload | undefined;
  let destinationIp: string | undefined;
  if (service) {
    workload = store.model.workloads.find((w) => Object.hasOwn(w.services, `${service.namespace}/${service.hostname}`) && w.waypoint);
    destinationIp = typeof dst.ip === 'string' ? dst.ip : service.addresses[0];
  } else {
    if (typeof dst.workload !== 'string' && typeof dst.ip !== 'string') throw new InvalidInput('destination needs service ("ns/name" or host name), workload ("ns/pod") or ip');
    workload = findWorkload(store, dst);
    if (!workload) throw new InvalidInput(`no workload or service with IP ${String(dst.ip)} in the config`);
    destinationIp = typeof dst.ip === 'string' ? dst.ip : workload.addresses[0];
  }
  const named = service ? `service ${service.namespace}/${service.name}` : `workload ${workload!.namespace}/${workload!.name}`;
  const gateway = workload?.waypoint?.gateway;
  if (!gateway) throw new InvalidInput(`no waypoint serves ${named}`);
  if (destinationIp === undefined) throw new InvalidInput(`${named} has no IP`);
  if (req.remoteIp !== undefined && typeof req.remoteIp !== 'string') throw new InvalidInput('remoteIp must be a string');

  const head = requestHead(req.http, service ? service.hostname : `${destinationIp}:${r.port}`);
  const auth = requestAuth(req.auth);
  const refused = checkRequestHead(head);
  if (!refused.ok) return { decision: 'DENY', policy: null, reason: `refused before authorization: ${refused.status} ${refused.reason}` };

  const [gwNamespace, gwName] = gateway.split('/') as [string, string];
  const all = store.resources.resolve().resources.flatMap((x) => (x.kind === 'AuthorizationPolicy' ? [x] : []));
  const policies = waypointPolicies(all, { gateway: { namespace: gwNamespace, name: gwName }, ...(service ? { service: { namespace: service.namespace, name: service.name } } : {}) });
  const d = evaluateHttp(policies, {
    ...(r.peer ? { sourceIdentity: r.peer } : {}), sourceIp: r.sourceIp, destinationIp, destinationPort: r.port,
    http: head, ...(auth ? { auth } : {}), ...(typeof req.remoteIp === 'string' ? { remoteIp: req.remoteIp } : {}),
  });
  const extra = { ...(d.dryRun.length ? { dryRun: d.dryRun } : {}), ...(d.audit.length ? { audit: d.audit } : {}) };
  if (d.allowed) {
    const reason = d.policy ? `allowed by ALLOW policy ${d.policy}` : policies.length === 0 ? `no policy applies at waypoint ${gateway}: allowed` : 'no ALLOW policy applies and no DENY policy matched: allowed';
    return { decision: 'ALLOW', policy: d.policy ?? null, reason, ...extra };
  }
  if (d.reason === 'invalid_path') return { decision: 'DENY', policy: null, reason: `refused before authorization: 400 ${d.detail}` };
  const reason = d.reason === 'explicitly_denied' ? `denied by DENY policy ${d.policy ?? '(unknown)'}` : 'ALLOW policies apply but none matched: denied';
  return { decision: 'DENY', policy: d.policy ?? null, reason, ...extra };
}
