// Decoders for security.istio.io AuthorizationPolicy, PeerAuthentication and RequestAuthentication.
// Checks follow Istio's admission validation (istio:pkg/config/validation/validation.go
// ValidateAuthorizationPolicy / ValidatePeerAuthentication / ValidateRequestAuthentication).
import { parseCidr, type Cidr } from './cidr.js';
import { conditionKeyKind } from './authz-fields.js';
import { dns1123Subdomain, FieldReader, isPlainObject, typeOf, type ErrorSink } from './field-reader.js';
import type { KindDecoder } from './kind-decoder.js';
import type { ObjectMeta } from './resources.js';
import {
  authorizationActions,
  mtlsModes,
  securityApiVersions,
  type AuthorizationAction,
  type AuthorizationCondition,
  type AuthorizationOperation,
  type AuthorizationPolicyResource,
  type AuthorizationRule,
  type AuthorizationSource,
  type ClaimToHeader,
  type JwtHeader,
  type JwtRule,
  type MtlsMode,
  type PeerAuthenticationResource,
  type PolicyTargetRef,
  type RequestAuthenticationResource,
  type SecurityResource,
  type WorkloadSelector,
} from './security-resources.js';

export const dryRunAnnotation = 'istio.io/dry-run';

/**
 * A sink reporting absolute paths. FieldReader keeps its sink private; the decoders are handed the
 * document root (path ''), whose error(path) reports `path` unchanged.
 */
function rootSink(doc: FieldReader): ErrorSink {
  return (path, reason) => {
    doc.error(path, reason);
  };
}

/** Unknown keys are reported: a misspelt matcher field (`principal:`) would otherwise widen a rule. */
function checkKnownFields(r: FieldReader, known: readonly string[]): void {
  for (const key of Object.keys(r.value)) {
    if (!known.includes(key)) r.error(key, `unknown field (known: ${known.join(', ')})`);
  }
}

/** A list of non-empty strings (Istio: "empty value not allowed"); bad entries go to `sink`. */
function valueList(r: FieldReader, key: string, sink: ErrorSink, check?: (v: string) => string | undefined): string[] {
  return r.list(key).flatMap(({ value, path }) => {
    if (typeof value !== 'string') {
      const hint = typeof value === 'number' ? ` (quote it: "${value}")` : '';
      sink(path, `must be a string, got ${typeOf(value)}${hint}`);
      return [];
    }
    if (value === '') {
      sink(path, 'must not be empty');
      return [];
    }
    const problem = check?.(value);
    if (problem !== undefined) {
      sink(path, problem);
      return [];
    }
    return [value];
  });
}

/** Entries in a raw list field (0 when absent or not a list), without reporting anything. */
function rawLength(r: FieldReader, key: string): number {
  const v = r.has(key) ? r.value[key] : undefined;
  return Array.isArray(v) ? v.length : 0;
}

/** Istio: a `source`/`operation` whose lists are all empty "must not be empty". */
function allEmpty(r: FieldReader): boolean {
  return Object.keys(r.value).every((k) => !r.has(k) || (Array.isArray(r.value[k]) && rawLength(r, k) === 0));
}

function checkCidr(v: string): string | undefined {
  const c = parseCidr(v);
  return 'error' in c ? c.error : undefined;
}

function cidrList(r: FieldReader, key: string, sink: ErrorSink): Cidr[] {
  return valueList(r, key, sink, checkCidr).map((v) => parseCidr(v) as Cidr);
}

/** Istio operation ports and `destination.port` values: decimal strings. 0 is refused: it never matches. */
function checkPort(v: string): string | undefined {
  if (!/^[0-9]{1,5}$/.test(v)) return `${JSON.stringify(v.slice(0, 40))} is not a port number`;
  const n = Number(v);
  return n >= 1 && n <= 65535 ? undefined : `port ${n} is not between 1 and 65535`;
}

/** `sa` or `ns/sa`, no wildcard, ≤ 320 characters (istio:pkg/config/security CheckServiceAccount). */
function checkServiceAccount(v: string): string | undefined {
  if (v.includes('*')) return `${JSON.stringify(v.slice(0, 80))}: wildcards are not allowed in service accounts`;
  if (v.length > 320) return 'must be at most 320 characters';
  const parts = v.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) return `${JSON.stringify(v.slice(0, 80))} is not of the form serviceAccount or namespace/serviceAccount`;
  return undefined;
}

/** Path templates `{*}` / `{**}` (istio:pkg/config/security CheckValidPathTemplate). */
function checkPathTemplate(v: string): string | undefined {
  if (!v.includes('{') && !v.includes('}')) return undefined;
  let sawAny = false;
  for (const seg of v.replace(/^\/+|\/+$/g, '').split('/')) {
    if ((seg === '{*}' || seg === '{**}') && sawAny) return `${JSON.stringify(v.slice(0, 80))}: {**} must be the last operator in a path template`;
    if (seg === '{**}') sawAny = true;
    if (seg === '{*}' || seg === '{**}') continue;
    if (/[{}]/.test(seg)) return `${JSON.stringify(v.slice(0, 80))}: '{' or '}' outside a {*} or {**} template`;
    if (!/^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/.test(seg)) return `${JSON.stringify(v.slice(0, 80))}: segment ${JSON.stringify(seg)} is not a valid path literal`;
  }
  return undefined;
}

function readSelector(spec: FieldReader): WorkloadSelector | undefined {
  const sel = spec.object('selector');
  if (!sel) return undefined;
  checkKnownFields(sel, ['matchLabels']);
  return { matchLabels: sel.stringMap('matchLabels', { labels: true }) };
}

// istio:pkg/config/validation validatePolicyTargetReference: group/kind must be one of these.
const targetKinds: readonly (readonly [string, string])[] = [
  ['', 'Service'],
  ['networking.istio.io', 'ServiceEntry'],
  ['gateway.networking.k8s.io', 'Gateway'],
  ['gateway.networking.k8s.io', 'GatewayClass'],
];

function readTargetRef(r: FieldReader, meta: ObjectMeta): PolicyTargetRef | undefined {
  checkKnownFields(r, ['group', 'kind', 'name', 'namespace']);
  const group = r.string('group') ?? '';
  const kind = r.string('kind', { required: true });
  const name = r.string('name', { required: true, pattern: dns1123Subdomain, what: 'a valid Kubernetes name' });
  const namespace = r.string('namespace');
  if (kind !== undefined && !targetKinds.some(([g, k]) => (g === group || (g === '' && group === 'core')) && k === kind)) {
    r.error('kind', `${JSON.stringify(`${group}/${kind}`.slice(0, 80))} cannot be a target (allowed: Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway, gateway.networking.k8s.io/GatewayClass)`);
    return undefined;
  }
  if (namespace !== undefined && namespace !== meta.namespace) {
    r.error('namespace', 'cross-namespace targets are not supported; leave namespace unset');
    return undefined;
  }
  if (kind === undefined || name === undefined) return undefined;
  return { group: group === 'core' ? '' : group, kind, name, ...(namespace !== undefined ? { namespace } : {}) };
}

/**
 * selector, targetRef and targetRefs: at most one may be set (Istio validateOneOfSelectorType).
 * Any error here rejects the resource (undefined), as Istio's admission does: dropping a bad label
 * or target would silently re-attach the policy to a wider set of workloads.
 */
function readAttachment(spec: FieldReader, meta: ObjectMeta, sink: ErrorSink, targets = true): { selector?: WorkloadSelector; targetRefs: PolicyTargetRef[] } | undefined {
  let bad = false;
  const r = new FieldReader(spec.value, spec.path, (path, reason) => {
    bad = true;
    sink(path, reason);
  });
  const selector = readSelector(r);
  const single = targets ? r.object('targetRef') : undefined;
  const many = targets ? r.objects('targetRefs', { max: 16 }) : [];
  const set = [selector !== undefined, single !== undefined, many.length > 0].filter(Boolean).length;
  if (set > 1) r.error(single ? 'targetRef' : 'targetRefs', 'only one of selector, targetRef or targetRefs may be set');
  const targetRefs = [...(single ? [single] : []), ...many].flatMap((t) => readTargetRef(t, meta) ?? []);
  return bad ? undefined : { ...(selector !== undefined ? { selector } : {}), targetRefs };
}

/** Go strconv.ParseBool, which is how istiod reads `istio.io/dry-run`. */
function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  return undefined;
}

const dryRunPath = `metadata.annotations.${dryRunAnnotation}`;

function rejectDryRun(meta: ObjectMeta, sink: ErrorSink): void {
  if (Object.hasOwn(meta.annotations, dryRunAnnotation)) sink(dryRunPath, 'is only supported on AuthorizationPolicy; remove it');
}

// ---------------------------------------------------------------- AuthorizationPolicy

const sourceStringFields = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces'] as const;
const sourceCidrFields = ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'] as const;

function decodeSource(r: FieldReader, sink: ErrorSink): AuthorizationSource {
  checkKnownFields(r, [...sourceStringFields, 'serviceAccounts', 'notServiceAccounts', ...sourceCidrFields]);
  const strings = Object.fromEntries(sourceStringFields.map((k) => [k, valueList(r, k, sink)])) as Record<(typeof sourceStringFields)[number], string[]>;
  const cidrs = Object.fromEntries(sourceCidrFields.map((k) => [k, cidrList(r, k, sink)])) as Record<(typeof sourceCidrFields)[number], Cidr[]>;
  const serviceAccounts = valueList(r, 'serviceAccounts', sink, checkServiceAccount);
  const notServiceAccounts = valueList(r, 'notServiceAccounts', sink, checkServiceAccount);
  for (const key of ['serviceAccounts', 'notServiceAccounts'] as const) {
    if (rawLength(r, key) > 16) r.error(key, 'must have at most 16 entries');
  }
  const source: AuthorizationSource = { ...strings, serviceAccounts, notServiceAccounts, ...cidrs };
  if (
    serviceAccounts.length + notServiceAccounts.length > 0 &&
    strings.principals.length + strings.notPrincipals.length + strings.namespaces.length + strings.notNamespaces.length > 0
  ) {
    r.error(serviceAccounts.length > 0 ? 'serviceAccounts' : 'notServiceAccounts', 'cannot be combined with principals or namespaces');
  }
  if (allEmpty(r)) r.error('', 'must set at least one field (omit `from` to match any source)');
  return source;
}

function decodeOperation(r: FieldReader, sink: ErrorSink): AuthorizationOperation {
  checkKnownFields(r, ['hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths']);
  const op: AuthorizationOperation = {
    hosts: valueList(r, 'hosts', sink),
    notHosts: valueList(r, 'notHosts', sink),
    ports: valueList(r, 'ports', sink, checkPort).map(Number),
    notPorts: valueList(r, 'notPorts', sink, checkPort).map(Number),
    methods: valueList(r, 'methods', sink),
    notMethods: valueList(r, 'notMethods', sink),
    paths: valueList(r, 'paths', sink, checkPathTemplate),
    notPaths: valueList(r, 'notPaths', sink, checkPathTemplate),
  };
  if (allEmpty(r)) r.error('', 'must set at least one field (omit `to` to match any operation)');
  return op;
}

function decodeCondition(r: FieldReader, sink: ErrorSink): AuthorizationCondition | undefined {
  checkKnownFields(r, ['key', 'values', 'notValues']);
  const key = r.string('key', { required: true });
  if (key === undefined) return undefined;
  const kind = conditionKeyKind(key);
  if (typeof kind !== 'string') {
    r.error('key', kind.error);
    return undefined;
  }
  const check = kind === 'ip' ? checkCidr : kind === 'port' ? checkPort : kind === 'serviceAccount' ? checkServiceAccount : undefined;
  const values = valueList(r, 'values', sink, check);
  const notValues = valueList(r, 'notValues', sink, check);
  if (rawLength(r, 'values') === 0 && rawLength(r, 'notValues') === 0) {
    r.error('', `at least one of values or notValues must be set for key ${JSON.stringify(key)}`);
  }
  return { key, values, notValues };
}

/** `from`/`to` entries: a list of `{<inner>: {...}}` wrappers; present-but-empty is an error. */
function wrapped<T>(r: FieldReader, key: string, inner: string, decode: (x: FieldReader) => T): T[] {
  if (r.has(key) && Array.isArray(r.value[key]) && (r.value[key] as unknown[]).length === 0) {
    r.error(key, `must not be empty (omit \`${key}\` to match any ${key === 'from' ? 'source' : 'operation'})`);
  }
  return r.objects(key).flatMap((w) => {
    checkKnownFields(w, [inner]);
    const x = w.object(inner, { required: true });
    return x ? [decode(x)] : [];
  });
}

/**
 * One rule, read with a sink that marks the rule invalid on any error, so that a dropped entry
 * can never silently widen what the rule matches (see AuthorizationRule.valid).
 */
function decodeRule(value: unknown, path: string, sink: ErrorSink): AuthorizationRule {
  let valid = true;
  const ruleSink: ErrorSink = (p, reason) => {
    valid = false;
    sink(p, reason);
  };
  if (!isPlainObject(value)) {
    ruleSink(path, `must be an object, got ${typeOf(value)}`);
    return { from: [], to: [], when: [], valid: false };
  }
  const r = new FieldReader(value, path, ruleSink);
  checkKnownFields(r, ['from', 'to', 'when']);
  const from = wrapped(r, 'from', 'source', (x) => decodeSource(x, ruleSink));
  const to = wrapped(r, 'to', 'operation', (x) => decodeOperation(x, ruleSink));
  const when = r.objects('when').flatMap((c) => decodeCondition(c, ruleSink) ?? []);
  return { from, to, when, valid };
}

export function decodeAuthorizationPolicy(doc: FieldReader, meta: ObjectMeta): AuthorizationPolicyResource | undefined {
  const sink = rootSink(doc);
  const spec = doc.object('spec', { required: true });
  if (!spec) return undefined;
  checkKnownFields(spec, ['selector', 'targetRef', 'targetRefs', 'action', 'provider', 'rules']);
  const actionText = spec.string('action') ?? 'ALLOW';
  if (!(authorizationActions as readonly string[]).includes(actionText)) {
    spec.error('action', `${JSON.stringify(actionText.slice(0, 40))} is not one of ${authorizationActions.join(', ')}`);
    return undefined;
  }
  const action = actionText as AuthorizationAction;
  const attachment = readAttachment(spec, meta, sink);
  if (!attachment) return undefined;

  const providerReader = spec.object('provider');
  if (providerReader) checkKnownFields(providerReader, ['name']);
  const provider = providerReader?.string('name');
  if (providerReader && action !== 'CUSTOM') spec.error('provider', `must only be set with action CUSTOM, found ${action}`);

  // Rules: "If not set, the match will never occur. This is equivalent to setting a default of deny
  // for the target workloads if the action is ALLOW." A rule `{}` is "always matched"
  // (istio/api security/v1beta1/authorization_policy.proto, AuthorizationPolicy.rules and Rule).
  // So `rules` absent or [] → matches nothing; `rules: [{}]` → matches everything.
  const rules = spec.list('rules').map(({ value, path }) => decodeRule(value, path, sink));
  if (rules.length === 0 && action === 'DENY') {
    spec.error('rules', 'a DENY policy without rules never matches; add an empty rule `{}` to deny every request');
  }
  let supported = true;
  if (action === 'CUSTOM') {
    supported = false;
    spec.error('action', 'CUSTOM (external authorization) is not supported by Ambit; the policy is not enforced');
    if (rules.length === 0) spec.error('rules', 'a CUSTOM policy without rules never matches; add an empty rule `{}` to apply it to every request');
    else if (!provider) spec.error('provider.name', 'is required with action CUSTOM');
  }

  let dryRun = false;
  const dryRunText = meta.annotations[dryRunAnnotation];
  if (dryRunText !== undefined && Object.hasOwn(meta.annotations, dryRunAnnotation)) {
    const parsed = parseGoBool(dryRunText);
    if (parsed === undefined) sink(dryRunPath, `${JSON.stringify(dryRunText.slice(0, 40))} is not a boolean (true or false)`);
    else if (action !== 'ALLOW' && action !== 'DENY') sink(dryRunPath, `is only supported with action ALLOW or DENY, found ${action}`);
    else dryRun = parsed;
  }

  return {
    kind: 'AuthorizationPolicy',
    meta,
    spec: { ...attachment, action, ...(provider ? { provider } : {}), rules, dryRun, supported },
  };
}

// ---------------------------------------------------------------- PeerAuthentication

function readMode(r: FieldReader): MtlsMode | undefined {
  checkKnownFields(r, ['mode']);
  const mode = r.string('mode') ?? 'UNSET';
  if ((mtlsModes as readonly string[]).includes(mode)) return mode as MtlsMode;
  r.error('mode', `${JSON.stringify(mode.slice(0, 40))} is not one of ${mtlsModes.join(', ')}`);
  return undefined;
}

export function decodePeerAuthentication(doc: FieldReader, meta: ObjectMeta): PeerAuthenticationResource | undefined {
  const sink = rootSink(doc);
  rejectDryRun(meta, sink);
  const spec = doc.object('spec') ?? new FieldReader({}, 'spec', sink);
  checkKnownFields(spec, ['selector', 'mtls', 'portLevelMtls']);
  const attachment = readAttachment(spec, meta, sink, false);
  if (!attachment) return undefined;
  const { selector } = attachment;
  const mtls = spec.object('mtls');
  const mtlsMode = mtls ? readMode(mtls) : 'UNSET';
  if (mtlsMode === undefined) return undefined;

  const portLevelMtls = new Map<number, MtlsMode>();
  const ports = spec.object('portLevelMtls');
  if (ports) {
    const entries = Object.entries(ports.value);
    if (entries.length === 0) ports.error('', 'must have at least one port when set');
    if (selector === undefined || Object.keys(selector.matchLabels).length === 0) {
      ports.error('', 'is only allowed with a selector with matchLabels (not on mesh or namespace policies)');
    } else {
      for (const [key, value] of entries) {
        const problem = /^[0-9]+$/.test(key) ? checkPort(key) : `${JSON.stringify(key.slice(0, 40))} is not a port number`;
        if (problem !== undefined) {
          ports.error(key, `key ${problem}`);
          continue;
        }
        if (!isPlainObject(value)) {
          ports.error(key, `must be an object with a mode, got ${typeOf(value)}`);
          continue;
        }
        const mode = readMode(new FieldReader(value, ports.at(key), sink));
        if (mode !== undefined) portLevelMtls.set(Number(key), mode);
      }
    }
  }
  return { kind: 'PeerAuthentication', meta, spec: { ...(selector !== undefined ? { selector } : {}), mtlsMode, portLevelMtls } };
}

// ---------------------------------------------------------------- RequestAuthentication

const strictHeaderName = /^[-_A-Za-z0-9]+$/;

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** https, or http to a loopback host only: keys fetched in clear text could be swapped in transit. */
function checkJwksUri(v: string): string | undefined {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `${JSON.stringify(v.slice(0, 80))} is not a URL`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') return isLoopbackHost(url.hostname) ? undefined : 'must use https (http is only allowed for a loopback host)';
  return `scheme ${JSON.stringify(url.protocol.slice(0, -1))} is not supported (use https)`;
}

function checkJwks(v: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (err) {
    return `is not valid JSON: ${(err as Error).message.slice(0, 80)}`;
  }
  return isPlainObject(parsed) && Array.isArray(parsed.keys) ? undefined : 'must be a JSON Web Key Set (an object with a "keys" list)';
}

function decodeJwtRule(value: unknown, path: string, sink: ErrorSink): JwtRule | undefined {
  let ok = true;
  const ruleSink: ErrorSink = (p, reason) => {
    ok = false;
    sink(p, reason);
  };
  if (!isPlainObject(value)) {
    ruleSink(path, `must be an object, got ${typeOf(value)}`);
    return undefined;
  }
  const r = new FieldReader(value, path, ruleSink);
  checkKnownFields(r, [
    'issuer', 'audiences', 'jwksUri', 'jwks', 'fromHeaders', 'fromParams', 'fromCookies',
    'outputPayloadToHeader', 'forwardOriginalToken', 'outputClaimToHeaders', 'timeout',
  ]);
  const issuer = r.string('issuer', { required: true });
  if (issuer === '') r.error('issuer', 'must not be empty');
  const audiences = valueList(r, 'audiences', ruleSink);
  const jwksUri = r.string('jwksUri');
  const jwks = r.string('jwks');
  if (jwksUri !== undefined) {
    const problem = checkJwksUri(jwksUri);
    if (problem) r.error('jwksUri', problem);
  }
  if (jwks !== undefined) {
    const problem = checkJwks(jwks);
    if (problem) r.error('jwks', problem);
  }
  if (jwks !== undefined && jwksUri !== undefined) r.error('jwksUri', 'must not be set together with jwks');
  const fromHeaders = r.objects('fromHeaders').flatMap((h): JwtHeader[] => {
    checkKnownFields(h, ['name', 'prefix']);
    const name = h.string('name', { required: true, pattern: /./, what: 'a non-empty header name' });
    const prefix = h.string('prefix');
    return name === undefined ? [] : [{ name, ...(prefix !== undefined ? { prefix } : {}) }];
  });
  const fromParams = valueList(r, 'fromParams', ruleSink);
  const fromCookies = valueList(r, 'fromCookies', ruleSink);
  const outputPayloadToHeader = r.string('outputPayloadToHeader', { pattern: strictHeaderName, what: 'a valid header name' });
  const forwardOriginalToken = r.boolean('forwardOriginalToken') ?? false;
  const outputClaimToHeaders = r.objects('outputClaimToHeaders').flatMap((c): ClaimToHeader[] => {
    checkKnownFields(c, ['header', 'claim']);
    const header = c.string('header', { required: true, pattern: strictHeaderName, what: 'a valid header name ([-_A-Za-z0-9]+)' });
    const claim = c.string('claim', { required: true, pattern: /./, what: 'a non-empty claim name' });
    return header === undefined || claim === undefined ? [] : [{ header, claim }];
  });
  if (!ok || issuer === undefined) return undefined;
  return {
    issuer,
    audiences,
    ...(jwksUri !== undefined ? { jwksUri } : {}),
    ...(jwks !== undefined ? { jwks } : {}),
    fromHeaders,
    fromParams,
    fromCookies,
    ...(outputPayloadToHeader !== undefined ? { outputPayloadToHeader } : {}),
    forwardOriginalToken,
    outputClaimToHeaders,
  };
}

export function decodeRequestAuthentication(doc: FieldReader, meta: ObjectMeta): RequestAuthenticationResource | undefined {
  const sink = rootSink(doc);
  rejectDryRun(meta, sink);
  const spec = doc.object('spec') ?? new FieldReader({}, 'spec', sink);
  checkKnownFields(spec, ['selector', 'targetRef', 'targetRefs', 'jwtRules']);
  const attachment = readAttachment(spec, meta, sink);
  if (!attachment) return undefined;
  // A bad JWT rule is dropped: tokens it would have accepted then fail, which fails closed.
  const jwtRules = spec.list('jwtRules').flatMap(({ value, path }) => decodeJwtRule(value, path, sink) ?? []);
  return { kind: 'RequestAuthentication', meta, spec: { ...attachment, jwtRules } };
}

export const securityDecoders: Readonly<Record<string, KindDecoder<SecurityResource>>> = {
  AuthorizationPolicy: { apiVersions: securityApiVersions, namespaced: true, decode: decodeAuthorizationPolicy },
  PeerAuthentication: { apiVersions: securityApiVersions, namespaced: true, decode: decodePeerAuthentication },
  RequestAuthentication: { apiVersions: securityApiVersions, namespaced: true, decode: decodeRequestAuthentication },
};
