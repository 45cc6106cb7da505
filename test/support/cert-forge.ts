// CertForge: client certificates that are wrong on purpose (other trust domain, two or odd URI
// SANs, missing EKU, self-signed), made with the openssl CLI and the mesh CA's key so the tests
// do not depend on the DER encoder they are testing.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Clock } from '../../shared/clock.js';
import { CertificateAuthority } from '../../shared/identity/ca.js';

const run = promisify(execFile);

export interface ForgedCert {
  readonly keyPem: string;
  readonly certPem: string;
}

export interface ForgeOptions {
  /** URI SANs, written byte for byte (latin1) so NUL bytes survive; [] leaves the SAN out. */
  readonly uris: readonly string[];
  /** Extended key usages by openssl name (clientAuth, serverAuth); [] leaves the EKU out. */
  readonly eku: readonly string[];
  /** Sign with the leaf's own key instead of the mesh CA. */
  readonly selfSigned?: boolean;
}

/** DER length octets (X.690 §8.1.3). */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
}

/** SubjectAltName value: SEQUENCE OF [6] IA5String URIs. */
function sanDer(uris: readonly string[]): Buffer {
  return tlv(0x30, Buffer.concat(uris.map((u) => tlv(0x86, Buffer.from(u, 'latin1')))));
}

export class CertForge {
  private readonly dir: string;
  private readonly trustDomain: string;
  private count = 0;

  private constructor(dir: string, trustDomain: string) {
    this.dir = dir;
    this.trustDomain = trustDomain;
  }

  /** Writes the CA's key and certificate to a fresh temporary directory. */
  static async create(ca: CertificateAuthority): Promise<CertForge> {
    const dir = await mkdtemp(join(tmpdir(), 'ambit-forge-'));
    await ca.saveToDir(dir);
    return new CertForge(dir, ca.trustDomain);
  }

  async leaf(opts: ForgeOptions): Promise<ForgedCert> {
    const n = this.count++;
    const file = (suffix: string): string => join(this.dir, `leaf${n}.${suffix}`);
    const ext: string[] = [];
    if (opts.uris.length > 0) ext.push(`subjectAltName=critical,DER:${sanDer(opts.uris).toString('hex')}`);
    if (opts.eku.length > 0) ext.push(`extendedKeyUsage=${opts.eku.join(',')}`);
    ext.push('keyUsage=critical,digitalSignature');
    await writeFile(file('ext'), ext.join('\n') + '\n');
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', file('key')]);
    await run('openssl', ['req', '-new', '-key', file('key'), '-subj', '/O=ambit-test', '-out', file('csr')]);
    const signer = opts.selfSigned
      ? ['-signkey', file('key')]
      : ['-CA', join(this.dir, 'ca-cert.pem'), '-CAkey', join(this.dir, 'ca-key.pem'), '-set_serial', `0x${randomBytes(8).toString('hex')}`];
    await run('openssl', ['x509', '-req', '-in', file('csr'), ...signer, '-days', '1', '-extfile', file('ext'), '-out', file('pem')]);
    const [keyPem, certPem] = await Promise.all([readFile(file('key'), 'utf8'), readFile(file('pem'), 'utf8')]);
    return { keyPem, certPem };
  }

  /** The same CA (key and root) running on `clock`: issues leaves that are expired or not yet valid. */
  caAt(clock: Clock): Promise<CertificateAuthority> {
    return CertificateAuthority.loadFromDir(this.dir, this.trustDomain, clock);
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
