// Decoder for gateway.networking.k8s.io HTTPRoute with the CRD's validation applied (apis/v1
// httproute_types.go and shared_types.go limits and CEL rules), plus the API server's defaults.
// ParentRefs may name a Gateway or, in the GAMMA mesh model (GEP-1426), a Service.
import { parseGatewayDurationMs } from './duration.js';
import { dns1123Label, type FieldReader } from './field-reader.js';
import { gatewayGroup, gatewayHostname, groupName, headerName, kindName, objectName, preciseHostname, sectionName } from './gateway-api-names.js';
import type {
  BackendObjectReference, BackendRef, HTTPHeader, HTTPHeaderFilter, HTTPPathMatch, HTTPPathModifier, HTTPRouteFilter, HTTPRouteMatch,
  HTTPRouteResource, HTTPRouteRule, HTTPValueMatch, ParentReference,
} from './gateway-resources.js';
import type { ObjectMeta } from './resources.js';

const maxRules = 16;
const maxMatchesPerRule = 64;
const maxMatchesPerRoute = 128;
const maxBackendRefs = 16;
const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const filterTypes = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror'] as const;
/** HTTPPathMatch CEL: characters allowed in Exact and PathPrefix values. */
const pathChars = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;

function readDuration(r: FieldReader, key: string): number | undefined {
  const text = r.string(key);
  if (text === undefined) return undefined;
  const d = parseGatewayDurationMs(text);
  return 'ms' in d ? d.ms : r.error(key, d.error);
}

/** Exact and PathPrefix values must be clean absolute paths (HTTPPathMatch XValidation rules). */
function pathProblem(value: string): string | undefined {
  if (!value.startsWith('/')) return 'must be an absolute path starting with "/"';
  for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#']) if (value.includes(bad)) return `must not contain ${JSON.stringify(bad)}`;
  for (const bad of ['/..', '/.']) if (value.endsWith(bad)) return `must not end with ${JSON.stringify(bad)}`;
  if (!pathChars.test(value)) return `must only contain valid path characters (${pathChars.source})`;
  return undefined;
}

function readPath(m: FieldReader): HTTPPathMatch | undefined {
  const p = m.object('path');
  if (!p) return { type: 'PathPrefix', value: '/' };
  const type = p.string('type') ?? 'PathPrefix';
  if (type !== 'Exact' && type !== 'PathPrefix' && type !== 'RegularExpression') return p.error('type', 'must be one of Exact, PathPrefix, RegularExpression');
  // A RegularExpression is kept as text (Ambit reads RE2), capped at the field's 1024 characters.
  const value = p.string('value', { maxLength: 1024 }) ?? '/';
  if (type !== 'RegularExpression') {
    const problem = pathProblem(value);
    if (problem) return p.error('value', `${JSON.stringify(value.slice(0, 80))} ${problem} for type ${type}`);
  } else if (value === '') return p.error('value', 'must not be empty');
  return { type, value };
}

function readValueMatches(m: FieldReader, key: string, maxValue: number): HTTPValueMatch[] {
  const seen = new Set<string>();
  return m.objects(key, { max: 16 }).flatMap((h) => {
    const type = h.string('type') ?? 'Exact';
    const name = h.string('name', { required: true, pattern: headerName, what: 'a valid name (RFC 7230 token)' });
    const value = h.string('value', { required: true, maxLength: maxValue });
    if (type !== 'Exact' && type !== 'RegularExpression') return h.error('type', 'must be Exact or RegularExpression') ?? [];
    if (name === undefined || value === undefined) return [];
    if (value === '') return h.error('value', 'must not be empty') ?? [];
    if (seen.has(name)) return h.error('name', `duplicate entry for ${JSON.stringify(name)}`) ?? [];
    seen.add(name);
    return [{ type, name, value }];
  });
}

function readMatch(m: FieldReader): HTTPRouteMatch | undefined {
  const path = readPath(m);
  const headers = readValueMatches(m, 'headers', 4096);
  const queryParams = readValueMatches(m, 'queryParams', 1024);
  const method = m.string('method');
  if (method !== undefined && !methods.includes(method)) return m.error('method', `must be one of ${methods.join(', ')}`);
  if (!path) return undefined;
  return { path, headers, queryParams, ...(method !== undefined ? { method } : {}) };
}

function readBackendObjectReference(b: FieldReader, defaults: { group: string; kind: string }): BackendObjectReference | undefined {
  const group = b.string('group', { pattern: groupName, what: 'a valid API group' }) ?? defaults.group;
  const kind = b.string('kind', { pattern: kindName, what: 'a valid kind' }) ?? defaults.kind;
  const name = b.string('name', { required: true, pattern: objectName, what: 'a valid object name' });
  const namespace = b.string('namespace', { pattern: dns1123Label, what: 'a valid namespace name' });
  const port = b.integer('port', { min: 1, max: 65535 });
  if (group === '' && kind === 'Service' && port === undefined && !b.has('port')) return b.error('port', 'is required for a Service backend (Must have port for Service reference)');
  if (name === undefined) return undefined;
  return { group, kind, name, ...(namespace !== undefined ? { namespace } : {}), ...(port !== undefined ? { port } : {}) };
}

function readHeaderFilter(f: FieldReader, key: string): HTTPHeaderFilter | undefined {
  const h = f.object(key, { required: true });
  if (!h) return undefined;
  const actions = new Map<string, string>();
  const claim = (name: string, where: string, path: string): boolean => {
    const lower = name.toLowerCase();
    const first = actions.get(lower);
    if (first === undefined) {
      actions.set(lower, where);
      return true;
    }
    h.error(path, `header ${JSON.stringify(name)} already has an action (${first}); only one action per header name is allowed`);
    return false;
  };
  const pairs = (k: 'set' | 'add'): HTTPHeader[] =>
    h.objects(k, { max: 16 }).flatMap((p, i) => {
      const name = p.string('name', { required: true, pattern: headerName, what: 'a valid header name' });
      const value = p.string('value', { required: true, maxLength: 4096 });
      if (name === undefined || value === undefined || !claim(name, k, `${k}[${i}].name`)) return [];
      return [{ name, value }];
    });
  const set = pairs('set');
  const add = pairs('add');
  const remove = h.strings('remove', { pattern: headerName, what: 'a valid header name', max: 16 }).filter((name, i) => claim(name, 'remove', `remove[${i}]`));
  return { set, add, remove };
}

function readPathModifier(r: FieldReader): HTTPPathModifier | undefined {
  const p = r.object('path');
  if (!p) return undefined;
  const type = p.string('type', { required: true });
  if (type === 'ReplaceFullPath' || type === 'ReplacePrefixMatch') {
    const key = type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
    const other = type === 'ReplaceFullPath' ? 'replacePrefixMatch' : 'replaceFullPath';
    if (p.has(other)) return p.error(other, `must not be set when type is ${type}`);
    const value = p.string(key, { required: true, maxLength: 1024 });
    if (value === undefined) return undefined;
    return type === 'ReplaceFullPath' ? { type, replaceFullPath: value } : { type, replacePrefixMatch: value };
  }
  return type === undefined ? undefined : p.error('type', 'must be ReplaceFullPath or ReplacePrefixMatch');
}

function readFilter(f: FieldReader): HTTPRouteFilter | undefined {
  const type = f.string('type', { required: true });
  if (type === undefined) return undefined;
  if (!(filterTypes as readonly string[]).includes(type)) {
    return f.error('type', `${JSON.stringify(type.slice(0, 40))} is not supported by Ambit (supported: ${filterTypes.join(', ')})`);
  }
  const fields: Record<string, string> = {
    RequestHeaderModifier: 'requestHeaderModifier', ResponseHeaderModifier: 'responseHeaderModifier', RequestRedirect: 'requestRedirect',
    URLRewrite: 'urlRewrite', RequestMirror: 'requestMirror', CORS: 'cors', ExtensionRef: 'extensionRef', ExternalAuth: 'externalAuth',
  };
  for (const [t, field] of Object.entries(fields)) if (t !== type && f.has(field)) f.error(field, `must not be set when type is ${type}`);
  switch (type) {
    case 'RequestHeaderModifier': {
      const requestHeaderModifier = readHeaderFilter(f, 'requestHeaderModifier');
      return requestHeaderModifier && { type, requestHeaderModifier };
    }
    case 'ResponseHeaderModifier': {
      const responseHeaderModifier = readHeaderFilter(f, 'responseHeaderModifier');
      return responseHeaderModifier && { type, responseHeaderModifier };
    }
    case 'RequestRedirect': {
      const r = f.object('requestRedirect', { required: true });
      if (!r) return undefined;
      const scheme = r.string('scheme');
      if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') return r.error('scheme', 'must be http or https');
      const hostname = r.string('hostname', { pattern: preciseHostname, what: 'a valid hostname (no wildcard)' });
      const path = readPathModifier(r);
      const port = r.integer('port', { min: 1, max: 65535 });
      const statusCode = r.integer('statusCode') ?? 302;
      if (statusCode !== 301 && statusCode !== 302 && statusCode !== 303 && statusCode !== 307 && statusCode !== 308) {
        return r.error('statusCode', 'must be one of 301, 302, 303, 307, 308');
      }
      return {
        type,
        requestRedirect: { statusCode, ...(scheme ? { scheme } : {}), ...(hostname !== undefined ? { hostname } : {}), ...(path ? { path } : {}), ...(port !== undefined ? { port } : {}) },
      };
    }
    case 'URLRewrite': {
      const u = f.object('urlRewrite', { required: true });
      if (!u) return undefined;
      const hostname = u.string('hostname', { pattern: preciseHostname, what: 'a valid hostname (no wildcard)' });
      const path = readPathModifier(u);
      return { type, urlRewrite: { ...(hostname !== undefined ? { hostname } : {}), ...(path ? { path } : {}) } };
    }
    default: {
      const m = f.object('requestMirror', { required: true });
      if (!m) return undefined;
      const b = m.object('backendRef', { required: true });
      const backendRef = b && readBackendObjectReference(b, { group: '', kind: 'Service' });
      if (m.has('percent') && m.has('fraction')) return m.error('', 'only one of percent or fraction may be set');
      const percent = m.integer('percent', { min: 0, max: 100 });
      const fr = m.object('fraction');
      let fraction: { numerator: number; denominator: number } | undefined;
      if (fr) {
        const numerator = fr.integer('numerator', { required: true, min: 0 });
        const denominator = fr.integer('denominator', { min: 1 }) ?? 100;
        if (numerator !== undefined && numerator > denominator) fr.error('numerator', 'must be less than or equal to denominator');
        else if (numerator !== undefined) fraction = { numerator, denominator };
      }
      if (!backendRef) return undefined;
      return { type: 'RequestMirror', requestMirror: { backendRef, ...(percent !== undefined ? { percent } : {}), ...(fraction ? { fraction } : {}) } };
    }
  }
}

function readRule(r: FieldReader): HTTPRouteRule | undefined {
  const name = r.string('name', { pattern: sectionName, what: 'a valid rule name' });
  const matches = r.has('matches')
    ? r.objects('matches', { max: maxMatchesPerRule }).map(readMatch).filter((m) => m !== undefined)
    : [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] } satisfies HTTPRouteMatch];
  const filterReaders = r.objects('filters', { max: 16 });
  const filters = filterReaders.map(readFilter).filter((f) => f !== undefined);
  for (const t of ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite']) {
    if (filters.filter((f) => f.type === t).length > 1) r.error('filters', `the ${t} filter cannot be repeated`);
  }
  const has = (t: string) => filters.some((f) => f.type === t);
  if (has('RequestRedirect') && has('URLRewrite')) r.error('filters', 'RequestRedirect and URLRewrite cannot be used together');
  const prefixRewrite = filters.some((f) =>
    (f.type === 'RequestRedirect' && f.requestRedirect.path?.type === 'ReplacePrefixMatch') || (f.type === 'URLRewrite' && f.urlRewrite.path?.type === 'ReplacePrefixMatch'));
  if (prefixRewrite && (matches.length !== 1 || matches[0]!.path.type !== 'PathPrefix')) {
    r.error('matches', 'a ReplacePrefixMatch path modifier needs exactly one PathPrefix match');
  }
  const backendRefs: BackendRef[] = r.objects('backendRefs', { max: maxBackendRefs }).flatMap((b) => {
    const ref = readBackendObjectReference(b, { group: '', kind: 'Service' });
    const weight = b.integer('weight', { min: 0, max: 1_000_000 }) ?? (b.has('weight') ? undefined : 1);
    if (b.has('filters')) b.error('filters', 'per-backend filters are not supported by Ambit yet');
    return ref && weight !== undefined ? [{ ...ref, weight }] : [];
  });
  if (has('RequestRedirect') && r.has('backendRefs') && backendRefs.length > 0) r.error('backendRefs', 'must not be set together with a RequestRedirect filter');
  const t = r.object('timeouts');
  let timeouts: HTTPRouteRule['timeouts'];
  if (t) {
    const requestMs = readDuration(t, 'request');
    const backendRequestMs = readDuration(t, 'backendRequest');
    if (requestMs !== undefined && backendRequestMs !== undefined && requestMs !== 0 && backendRequestMs > requestMs) {
      t.error('backendRequest', 'must not be longer than the request timeout');
    }
    timeouts = { ...(requestMs !== undefined ? { requestMs } : {}), ...(backendRequestMs !== undefined ? { backendRequestMs } : {}) };
  }
  const rt = r.object('retry');
  let retry: HTTPRouteRule['retry'];
  if (rt) {
    const codes: number[] = [];
    for (const { value, path } of rt.list('codes')) {
      const at = path.slice(rt.path.length + 1);
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 400 || value > 599) rt.error(at, `must be an HTTP status code from 400 to 599, got ${JSON.stringify(value)}`);
      else if (codes.includes(value)) rt.error(at, `duplicate status code ${value}`);
      else codes.push(value);
    }
    const attempts = rt.integer('attempts', { min: 0 });
    const backoffMs = readDuration(rt, 'backoff');
    retry = { codes, ...(attempts !== undefined ? { attempts } : {}), ...(backoffMs !== undefined ? { backoffMs } : {}) };
  }
  return {
    ...(name !== undefined ? { name } : {}),
    matches, filters, backendRefs,
    ...(timeouts ? { timeouts } : {}),
    ...(retry ? { retry } : {}),
  };
}

function readParentRefs(spec: FieldReader): ParentReference[] {
  const seen = new Set<string>();
  return spec.objects('parentRefs', { max: 32 }).flatMap((p) => {
    const group = p.string('group', { pattern: groupName, what: 'a valid API group' }) ?? gatewayGroup;
    const kind = p.string('kind') ?? 'Gateway';
    const name = p.string('name', { required: true, pattern: objectName, what: 'a valid object name' });
    const namespace = p.string('namespace', { pattern: dns1123Label, what: 'a valid namespace name' });
    const sectionNameValue = p.string('sectionName', { pattern: sectionName, what: 'a valid section name' });
    const port = p.integer('port', { min: 1, max: 65535 });
    if (kind !== 'Gateway' && kind !== 'Service') return p.error('kind', `must be Gateway or Service, got ${JSON.stringify(kind.slice(0, 40))}`) ?? [];
    const wantGroup = kind === 'Gateway' ? gatewayGroup : '';
    if (group !== wantGroup) return p.error('group', `must be ${JSON.stringify(wantGroup)} for kind ${kind}`) ?? [];
    if (name === undefined) return [];
    const key = JSON.stringify([kind, namespace ?? '', name, sectionNameValue ?? '', port ?? 0]);
    if (seen.has(key)) return p.error('', 'duplicate parentRef: references to the same parent need distinct sectionName or port') ?? [];
    seen.add(key);
    return [{ group, kind, name, ...(namespace !== undefined ? { namespace } : {}), ...(sectionNameValue !== undefined ? { sectionName: sectionNameValue } : {}), ...(port !== undefined ? { port } : {}) }];
  });
}

export function decodeHTTPRoute(doc: FieldReader, meta: ObjectMeta): HTTPRouteResource | undefined {
  const spec = doc.object('spec', { required: true });
  if (!spec) return undefined;
  const parentRefs = readParentRefs(spec);
  const hostnames = spec.strings('hostnames', { pattern: gatewayHostname, what: 'a valid hostname (RFC 1123, optional leading "*.", no IPs)', max: 16 });
  const ruleReaders = spec.has('rules') ? spec.objects('rules', { max: maxRules }) : [];
  if (spec.has('rules') && Array.isArray(spec.value.rules) && spec.value.rules.length === 0) spec.error('rules', 'must have at least one rule');
  const total = ruleReaders.reduce((n, r) => n + (Array.isArray(r.value.matches) ? r.value.matches.length : 1), 0);
  if (total > maxMatchesPerRoute) spec.error('rules', `have ${total} matches in all; a route may have at most ${maxMatchesPerRoute}`);
  const rules = spec.has('rules')
    ? ruleReaders.map(readRule).filter((r) => r !== undefined)
    : [{ matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }], filters: [], backendRefs: [] } satisfies HTTPRouteRule];
  const names = new Set<string>();
  for (const [i, rule] of rules.entries()) {
    if (rule.name === undefined) continue;
    if (names.has(rule.name)) spec.error(`rules[${i}].name`, `duplicate rule name ${JSON.stringify(rule.name)}: rule names must be unique within the route`);
    names.add(rule.name);
  }
  return { kind: 'HTTPRoute', meta, spec: { parentRefs, hostnames, rules } };
}
