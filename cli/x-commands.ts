// `ambit x …`: tools that explain the mesh without traffic.
//   ambit x authz check --config FILE --at ztunnel --request JSON
// prints {"decision":"ALLOW"|"DENY","policy":"ns/name"|null,"reason":"…"}; exit 0 for either
// decision, 2 for invalid input (unreadable or invalid config, malformed request, unknown workload).
import type { Command } from 'commander';
import { silentLogger } from '../shared/log.js';

class InvalidInput extends Error {}

interface CheckRequest {
  readonly source?: { readonly principal?: string | null; readonly ip?: string };
  readonly destination?: { readonly workload?: string; readonly ip?: string; readonly port?: number };
}

export function registerXCommands(program: Command): void {
  const x = program.command('x').description('experimental tools that explain the mesh');
  const authz = x.command('authz').description('authorization tools');
  authz.command('check')
    .description('explain the L4 authorization decision for one connection, without traffic')
    .requiredOption('--config <path>', 'mesh YAML file or folder')
    .option('--at <proxy>', 'where the decision is made (ztunnel)', 'ztunnel')
    .requiredOption('--request <json>', '{"source":{"principal":"spiffe://…"|null,"ip":"…"},"destination":{"workload":"ns/pod"|"ip":"…","port":N}}')
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

async function check(o: { config: string; at: string; request: string; trustDomain: string }): Promise<{ decision: 'ALLOW' | 'DENY'; policy: string | null; reason: string }> {
  if (o.at !== 'ztunnel') throw new InvalidInput(`--at ${JSON.stringify(o.at)}: only ztunnel is supported (the waypoint comes with L7)`);
  let req: CheckRequest;
  try {
    req = JSON.parse(o.request) as CheckRequest;
  } catch (err) {
    throw new InvalidInput(`--request is not JSON: ${(err as Error).message}`);
  }
  const [{ ConfigStore }, { FileSource }, { ModelIndex }, { parseIdentity }, { checkInbound, explainCheck }, { policiesFor }, { formatConfigError }] = await Promise.all([
    import('../shared/config/config-store.js'), import('../shared/config/file-source.js'), import('../shared/config/model-index.js'),
    import('../shared/identity/spiffe.js'), import('../ztunnel/inbound/inbound-check.js'), import('../shared/authz/evaluate.js'), import('../shared/config/config-error.js'),
  ]);
  const store = new ConfigStore({ trustDomain: o.trustDomain });
  const files = new FileSource({ path: o.config, store, logger: silentLogger() });
  try {
    await files.start();
  } catch (err) {
    throw new InvalidInput(`cannot read ${o.config}: ${(err as Error).message}`);
  } finally {
    files.close();
  }
  if (store.errors.length > 0) throw new InvalidInput(`the config has errors:\n${store.errors.map((e) => `  ${formatConfigError(e)}`).join('\n')}`);
  const index = new ModelIndex(store.model);
  const view = { index, authorizations: new Map(store.model.authorizations.map((a) => [a.name, a])), version: 'check' };

  const dst = req.destination;
  if (!dst || typeof dst.port !== 'number' || !Number.isInteger(dst.port) || dst.port < 1 || dst.port > 65535) throw new InvalidInput('destination.port must be a port number');
  let workload;
  if (typeof dst.workload === 'string') {
    const [ns, name] = dst.workload.split('/');
    workload = [...index.workloadByUid.values()].find((w) => w.namespace === ns && w.name === name);
    if (!workload) throw new InvalidInput(`no workload ${dst.workload} in the config`);
  } else if (typeof dst.ip === 'string') {
    workload = index.workloadByIp.get(dst.ip);
    if (!workload) throw new InvalidInput(`no workload with IP ${dst.ip} in the config`);
  } else {
    throw new InvalidInput('destination needs workload ("ns/pod") or ip');
  }
  const destinationIp = typeof dst.ip === 'string' ? dst.ip : workload.addresses[0];
  if (destinationIp === undefined) throw new InvalidInput(`workload ${workload.namespace}/${workload.name} has no IP`);
  if (workload.tunnelProtocol !== 'HBONE') throw new InvalidInput(`workload ${workload.namespace}/${workload.name} is not enrolled in the mesh: ztunnel does not see its traffic`);
  const principal = req.source?.principal;
  let peer;
  if (principal !== undefined && principal !== null) {
    try {
      peer = parseIdentity(principal);
    } catch (err) {
      throw new InvalidInput(`source.principal: ${(err as Error).message}`);
    }
  }
  const sourceIp = req.source?.ip ?? '0.0.0.0';
  const result = checkInbound(view, undefined, { ...(peer ? { peer } : {}), sourceIp, destinationIp, destinationPort: dst.port });
  const applying = policiesFor(view.authorizations, workload).length;
  return {
    decision: result.ok ? 'ALLOW' : 'DENY',
    policy: (result.ok ? result.decision.policy : result.policy) ?? null,
    reason: explainCheck(result, applying),
  };
}
