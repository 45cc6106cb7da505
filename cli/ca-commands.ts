// `ambit ca init` and `ambit ca issue`: a file-based mesh CA for local use, demos and benchmarks.
import type { Command } from 'commander';
import { CertificateAuthority } from '../shared/identity/ca.js';
import { writeCertificateDir } from '../shared/identity/cert-files.js';
import { parseIdentity } from '../shared/identity/spiffe.js';
import { parseDuration } from './duration.js';

export function registerCaCommands(program: Command): void {
  const ca = program.command('ca').description('a file-based mesh certificate authority');
  ca.command('init')
    .description('create a root CA (and optionally an intermediate) in a directory')
    .requiredOption('--dir <dir>', 'where ca-key.pem, ca-cert.pem and root-cert.pem are written')
    .option('--trust-domain <td>', 'SPIFFE trust domain', 'cluster.local')
    .option('--intermediate', 'sign workloads with an intermediate under the root', false)
    .action(async (o: { dir: string; trustDomain: string; intermediate: boolean }) => {
      const authority = await CertificateAuthority.create({ trustDomain: o.trustDomain, intermediate: o.intermediate });
      await authority.saveToDir(o.dir);
      process.stdout.write(`created CA for trust domain ${o.trustDomain} in ${o.dir}\n`);
    });
  ca.command('issue')
    .description('issue a workload certificate (key.pem, cert-chain.pem, root-cert.pem)')
    .requiredOption('--ca-dir <dir>', 'a directory written by `ambit ca init`')
    .requiredOption('--identity <spiffe-id>', 'spiffe://<td>/ns/<ns>/sa/<sa>')
    .requiredOption('--out <dir>', 'output directory')
    .option('--ttl <duration>', 'lifetime, e.g. 24h, 90m', '24h')
    .action(async (o: { caDir: string; identity: string; out: string; ttl: string }) => {
      const identity = parseIdentity(o.identity);
      const authority = await CertificateAuthority.loadFromDir(o.caDir, identity.trustDomain);
      const cert = await authority.issue(identity, { ttlMs: parseDuration(o.ttl) });
      await writeCertificateDir(o.out, cert);
      process.stdout.write(`issued ${o.identity} (serial ${cert.serialHex}, expires ${new Date(cert.notAfterMs).toISOString()}) in ${o.out}\n`);
    });
}
