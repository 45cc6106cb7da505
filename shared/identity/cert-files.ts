// A workload certificate on disk, in Istio's file names: key.pem, cert-chain.pem, root-cert.pem.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseIdentity } from './spiffe.js';
import { toWorkloadCertificate, type WorkloadCertificate } from './workload-certificate.js';
import { parseCertificate } from './x509.js';
import { pemDecodeAll } from './der.js';
import { ErrorCode, MeshError } from '../errors.js';

export async function writeCertificateDir(dir: string, cert: WorkloadCertificate): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'cert-chain.pem'), cert.chainPem);
  await writeFile(join(dir, 'root-cert.pem'), cert.rootsPem);
}

/** Reads a certificate directory; the identity comes from the leaf's single URI SAN. */
export async function readCertificateDir(dir: string): Promise<WorkloadCertificate> {
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  const [keyPem, chainPem, rootsPem] = await Promise.all([read('key.pem'), read('cert-chain.pem'), read('root-cert.pem')]);
  const leaf = pemDecodeAll(chainPem, 'CERTIFICATE')[0];
  if (!leaf) throw new MeshError(ErrorCode.InvalidCertificate, `${dir}/cert-chain.pem has no certificate`);
  const sans = parseCertificate(leaf).uriSans;
  if (sans.length !== 1) throw new MeshError(ErrorCode.InvalidCertificate, `${dir}/cert-chain.pem: leaf must have exactly one URI SAN`);
  return toWorkloadCertificate(parseIdentity(sans[0]!), keyPem, chainPem, rootsPem);
}
