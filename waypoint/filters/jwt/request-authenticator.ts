// RequestAuthenticator: the waypoint's JWT step for the RequestAuthentications that apply to it.
// Istio's semantics (pilot policy_applier.go convertToEnvoyJwtConfig → Envoy jwt_authn): no token
// passes with no identity (authorization decides); every token present must be valid for a rule
// that lists its location and names its issuer (Envoy PR #15194: an unknown issuer is a failure,
// not "missing"); CORS preflights bypass (Istio sets bypass_cors_preflight).
import type { Clock } from '../../../shared/clock.js';
import type { JwtRule, RequestAuthenticationResource } from '../../../shared/config/security-resources.js';
import { headerValue, type RequestHead } from '../../../shared/http/request-head.js';
import type { Logger } from '../../../shared/log.js';
import { outputHeaders, sanitizedHeaders } from './claim-headers.js';
import { decodeCompactJws, defaultMaxTokenBytes, type DecodedJws } from './compact-jws.js';
import { parseJwks, type JwksResult } from './jwks.js';
import type { JwksFetcher } from './jwks-fetcher.js';
import { httpStatusFor, JwtStatus } from './jwt-status.js';
import { verifyJwt, type VerifiedJwt, type JwtVerifyResult } from './jwt-verifier.js';
import { extractTokens, locationKey, tokenLocations, withoutQueryParam, type FoundToken, type TokenLocation } from './token-locations.js';

/** Edits to the request before it goes upstream: removals first, then sets (replacing), then `path`. */
export interface HeaderOps {
  readonly remove: readonly string[];
  readonly set: readonly (readonly [string, string])[];
  /** The request target without a consumed `fromParams` token, when one was removed. */
  readonly path?: string;
}

export type AuthnResult =
  | { readonly kind: 'none'; readonly headerOps: HeaderOps }
  | {
      readonly kind: 'valid';
      /** Of the first token found; `tokens` lists every verified token in extraction order. */
      readonly principal: string;
      readonly audiences: readonly string[];
      readonly presenter?: string;
      readonly claims: Readonly<Record<string, unknown>>;
      readonly tokens: readonly VerifiedJwt[];
      readonly headerOps: HeaderOps;
    }
  | {
      readonly kind: 'invalid';
      /** Envoy's message, also the response body. */
      readonly reason: JwtStatus;
      readonly detail: string;
      readonly httpStatus: 401 | 403;
      /** Envoy: `Bearer realm="<scheme://authority/path>", error="invalid_token"`. */
      readonly wwwAuthenticate: string;
    };

export interface RequestAuthenticatorOptions {
  readonly clock: Clock;
  /** Needed when any rule has a jwksUri; without it such rules refuse every token. */
  readonly fetcher?: JwksFetcher;
  readonly logger?: Logger;
  readonly clockSkewSeconds?: number;
  readonly maxTokenBytes?: number;
  /** For the realm in WWW-Authenticate. */
  readonly scheme?: 'http' | 'https';
}

interface CompiledRule {
  readonly rule: JwtRule;
  readonly policy: string;
  readonly keys: { readonly kind: 'inline'; readonly result: JwksResult } | { readonly kind: 'remote'; readonly uri: string } | { readonly kind: 'none' };
}

type KeysOutcome = { ok: true; result: JwtVerifyResult } | { ok: false; wait: string };

export class RequestAuthenticator {
  private readonly rules: readonly CompiledRule[];
  private readonly locations: readonly TokenLocation[];
  private readonly rulesAt = new Map<string, CompiledRule[]>();
  private readonly sanitize: readonly string[];
  private readonly opts: RequestAuthenticatorOptions;

  constructor(policies: readonly RequestAuthenticationResource[], opts: RequestAuthenticatorOptions) {
    this.opts = opts;
    this.rules = policies.flatMap((p) => p.spec.jwtRules.map((rule) => compileRule(rule, `${p.meta.namespace}/${p.meta.name}`)));
    const locations: TokenLocation[] = [];
    for (const r of this.rules) {
      for (const loc of tokenLocations(r.rule)) {
        const key = locationKey(loc);
        const at = this.rulesAt.get(key);
        if (at) at.push(r);
        else {
          this.rulesAt.set(key, [r]);
          locations.push(loc);
        }
      }
      if (r.keys.kind === 'inline' && !r.keys.result.ok) opts.logger?.warn({ policy: r.policy, issuer: r.rule.issuer, reason: r.keys.result.reason }, 'jwt rule has no usable key');
      if (r.keys.kind === 'remote') opts.fetcher?.lookup(r.keys.uri); // warm the cache before the first request
    }
    this.locations = locations;
    this.sanitize = sanitizedHeaders(this.rules.map((r) => r.rule));
  }

  /** True when no rule applies: the caller may skip this step entirely. */
  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Decides without waiting, or returns undefined when a remote key set's first fetch is in flight. */
  authenticateSync(head: RequestHead): AuthnResult | undefined {
    const r = this.run(head, false);
    return 'wait' in r ? undefined : r;
  }

  async authenticate(head: RequestHead): Promise<AuthnResult> {
    const first = this.run(head, false);
    if (!('wait' in first)) return first;
    await Promise.all(first.wait.map((uri) => this.opts.fetcher?.whenSettled(uri)));
    return this.run(head, true) as AuthnResult;
  }

  private run(head: RequestHead, final: boolean): AuthnResult | { wait: string[] } {
    const sanitizeOps: HeaderOps = { remove: this.sanitize, set: [] };
    if (this.rules.length === 0 || isCorsPreflight(head)) return { kind: 'none', headerOps: sanitizeOps };
    const found = extractTokens(head, this.locations);
    if (found.length === 0) return { kind: 'none', headerOps: sanitizeOps };
    const verified: { token: FoundToken; rule: CompiledRule; jwt: VerifiedJwt }[] = [];
    const wait: string[] = [];
    for (const token of found) {
      const decoded = decodeCompactJws(token.token, this.opts.maxTokenBytes ?? defaultMaxTokenBytes);
      if (!decoded.ok) return this.invalid(head, decoded.status, `${locationKey(token.location)}: ${decoded.detail}`);
      const iss = decoded.jws.payload.iss;
      const candidates = (this.rulesAt.get(locationKey(token.location)) ?? []).filter((r) => r.rule.issuer === iss);
      if (candidates.length === 0) return this.invalid(head, JwtStatus.UnknownIssuer, `iss ${JSON.stringify(iss ?? null).slice(0, 80)} at ${locationKey(token.location)}`);
      let firstFailure: { status: JwtStatus; detail: string } | undefined;
      let accepted: { rule: CompiledRule; jwt: VerifiedJwt } | undefined;
      let waiting = false;
      for (const rule of candidates) {
        const outcome = this.verifyWith(rule, decoded.jws, final);
        if (!outcome.ok) {
          wait.push(outcome.wait);
          waiting = true;
          continue;
        }
        if (outcome.result.ok) {
          accepted = { rule, jwt: outcome.result };
          break;
        }
        firstFailure ??= { status: outcome.result.status, detail: `${rule.policy}: ${outcome.result.detail}` };
      }
      if (accepted) verified.push({ token, ...accepted });
      else if (waiting) continue;
      else if (firstFailure) return this.invalid(head, firstFailure.status, firstFailure.detail);
    }
    if (wait.length > 0) return { wait: [...new Set(wait)] };
    return this.valid(head, verified);
  }

  private verifyWith(rule: CompiledRule, jws: DecodedJws, final: boolean): KeysOutcome {
    const { keys } = rule;
    let jwksResult: JwksResult | undefined;
    if (keys.kind === 'inline') jwksResult = keys.result;
    else if (keys.kind === 'remote') {
      const lookup = this.opts.fetcher?.lookup(keys.uri) ?? { state: 'failed' as const, reason: 'no jwks fetcher configured' };
      if (lookup.state === 'pending' && !final) return { ok: false, wait: keys.uri };
      if (lookup.state !== 'ready') {
        const reason = lookup.state === 'failed' ? lookup.reason : 'first fetch did not finish';
        return { ok: true, result: { ok: false, status: JwtStatus.JwksFetchFail, detail: `${keys.uri}: ${reason}` } };
      }
      jwksResult = { ok: true, jwks: lookup.jwks };
    }
    if (!jwksResult) return { ok: true, result: { ok: false, status: JwtStatus.JwksNoValidKeys, detail: 'rule has neither jwks nor jwksUri (OIDC discovery is not supported)' } };
    if (!jwksResult.ok) return { ok: true, result: { ok: false, status: JwtStatus.JwksNoValidKeys, detail: jwksResult.reason } };
    const result = verifyJwt(jws, {
      issuer: rule.rule.issuer,
      audiences: rule.rule.audiences,
      jwks: jwksResult.jwks,
      clock: this.opts.clock,
      ...(this.opts.clockSkewSeconds !== undefined ? { clockSkewSeconds: this.opts.clockSkewSeconds } : {}),
    });
    return { ok: true, result };
  }

  private valid(head: RequestHead, verified: readonly { token: FoundToken; rule: CompiledRule; jwt: VerifiedJwt }[]): AuthnResult {
    const remove = new Set(this.sanitize);
    const set: [string, string][] = [];
    let path: string | undefined;
    for (const { token, rule, jwt } of verified) {
      set.push(...outputHeaders(rule.rule, jwt));
      if (rule.rule.forwardOriginalToken) continue;
      // Envoy removes a header token's whole header and a query token's parameter; cookies stay
      // (extractor.cc: "TODO remove JWT from cookies").
      if (token.location.kind === 'header') remove.add(token.location.name);
      else if (token.location.kind === 'param') path = withoutQueryParam(path ?? head.path, token.location.name);
    }
    const primary = verified[0]!.jwt;
    this.opts.logger?.debug({ principal: primary.principal, tokens: verified.length }, 'jwt verified');
    return {
      kind: 'valid',
      principal: primary.principal,
      audiences: primary.audiences,
      ...(primary.presenter !== undefined ? { presenter: primary.presenter } : {}),
      claims: primary.claims,
      tokens: verified.map((v) => v.jwt),
      headerOps: { remove: [...remove], set, ...(path !== undefined ? { path } : {}) },
    };
  }

  private invalid(head: RequestHead, reason: JwtStatus, detail: string): AuthnResult {
    this.opts.logger?.debug({ reason, detail }, 'jwt rejected');
    return { kind: 'invalid', reason, detail, httpStatus: httpStatusFor(reason), wwwAuthenticate: bearerChallenge(this.opts.scheme ?? 'http', head) };
  }
}

function compileRule(rule: JwtRule, policy: string): CompiledRule {
  if (rule.jwks !== undefined) return { rule, policy, keys: { kind: 'inline', result: parseJwks(rule.jwks) } };
  if (rule.jwksUri !== undefined) return { rule, policy, keys: { kind: 'remote', uri: rule.jwksUri } };
  return { rule, policy, keys: { kind: 'none' } };
}

/** Envoy filter.cc isCorsPreflightRequest: OPTIONS with non-empty Origin and Access-Control-Request-Method. */
function isCorsPreflight(head: RequestHead): boolean {
  return head.method === 'OPTIONS' && !!headerValue(head, 'origin') && !!headerValue(head, 'access-control-request-method');
}

/**
 * Envoy's challenge: realm is the original URI without its query, capped at 256 characters
 * (filter.cc MaximumUriLength); `"` and `\` are escaped to keep the quoted-string well formed.
 */
export function bearerChallenge(scheme: string, head: Pick<RequestHead, 'authority' | 'path'>): string {
  const q = head.path.indexOf('?');
  const uri = `${scheme}://${head.authority}${q < 0 ? head.path : head.path.slice(0, q)}`.slice(0, 256);
  return `Bearer realm="${uri.replace(/["\\]/g, '\\$&')}", error="invalid_token"`;
}
