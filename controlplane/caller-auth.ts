// Who is calling the CA: a ztunnel (for a node) or a waypoint (for one identity). In file mode a
// bootstrap token file maps tokens to callers; on Kubernetes a TokenReview will (same interface).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import jsYaml from 'js-yaml';
import { parseIdentity, type Identity } from '../shared/identity/spiffe.js';

export type Caller = { readonly kind: 'ztunnel'; readonly node: string } | { readonly kind: 'waypoint'; readonly identity: Identity };

export type CallerAuthenticator = (token: string) => Promise<Caller | undefined>;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Tokens file (YAML): `tokens: [{token, kind: ztunnel, node}, {token, kind: waypoint, identity}]`.
 * Tokens are compared in constant time; a malformed entry fails the whole load with its index.
 */
export async function loadBootstrapTokens(path: string): Promise<CallerAuthenticator> {
  const doc = jsYaml.load(await readFile(path, 'utf8'), { schema: jsYaml.CORE_SCHEMA }) as { tokens?: unknown };
  if (!doc || !Array.isArray(doc.tokens)) throw new Error(`${path}: expected a top-level "tokens" list`);
  const entries = doc.tokens.map((t: unknown, i: number) => {
    const e = t as { token?: unknown; kind?: unknown; node?: unknown; identity?: unknown };
    if (typeof e?.token !== 'string' || e.token.length < 16) throw new Error(`${path}: tokens[${i}].token must be a string of 16+ characters`);
    if (e.kind === 'ztunnel' && typeof e.node === 'string' && e.node.length > 0) return { hash: digest(e.token), caller: { kind: 'ztunnel', node: e.node } as Caller };
    if (e.kind === 'waypoint' && typeof e.identity === 'string') return { hash: digest(e.token), caller: { kind: 'waypoint', identity: parseIdentity(e.identity) } as Caller };
    throw new Error(`${path}: tokens[${i}] needs kind ztunnel with node, or kind waypoint with identity`);
  });
  return async (token) => {
    const h = digest(token);
    let found: Caller | undefined;
    for (const e of entries) if (timingSafeEqual(e.hash, h)) found = e.caller; // no early exit
    return found;
  };
}
