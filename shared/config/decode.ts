// decodeDocument(): one untrusted document (from a YAML file or the API server) to a typed
// resource, or to ConfigErrors naming source, document, kind, namespace/name, field and reason.
// Never throws. The kinds known here are the core ones (with EndpointSlice); later kinds register
// the same way.
import type { ConfigError } from './config-error.js';
import { decodeNamespace, decodePod, decodeService, decodeServiceAccount } from './core-decoders.js';
import { decodeEndpointSlice } from './endpoint-slice-decoder.js';
import { dns1123Label, dns1123Subdomain, errorSink, FieldReader, isPlainObject, typeOf } from './field-reader.js';
import { gatewayDecoders } from './gateway-decoders.js';
import type { GatewayApiResource } from './gateway-resources.js';
import type { KindDecoder } from './kind-decoder.js';
import { networkingDecoders } from './networking-decoders.js';
import type { NetworkingResource } from './networking-resources.js';
import type { CoreResource, ObjectMeta } from './resources.js';
import { securityDecoders } from './security-decoders.js';
import type { SecurityResource } from './security-resources.js';

export type Resource = CoreResource | SecurityResource | NetworkingResource | GatewayApiResource;

export interface DocumentContext {
  readonly source: string;
  readonly document?: number;
  readonly line?: number;
  /** Namespace for namespaced objects that name none (kubectl's default). */
  readonly defaultNamespace?: string;
}

export interface DecodeResult {
  readonly resource?: Resource;
  readonly errors: ConfigError[];
}

const decoders: Readonly<Record<string, KindDecoder<Resource>>> = {
  Namespace: { apiVersions: ['v1'], namespaced: false, decode: decodeNamespace },
  ServiceAccount: { apiVersions: ['v1'], namespaced: true, decode: decodeServiceAccount },
  Pod: { apiVersions: ['v1'], namespaced: true, decode: decodePod },
  Service: { apiVersions: ['v1'], namespaced: true, decode: decodeService },
  EndpointSlice: { apiVersions: ['discovery.k8s.io/v1', 'discovery.k8s.io/v1beta1'], namespaced: true, decode: decodeEndpointSlice },
  ...securityDecoders,
  ...networkingDecoders,
  ...gatewayDecoders,
};

export function knownKinds(): string[] {
  return Object.keys(decoders);
}

/** Whether a known kind is namespaced (undefined for unknown kinds). */
export function isNamespacedKind(kind: string): boolean | undefined {
  return decoders[kind]?.namespaced;
}

export function decodeDocument(value: unknown, ctx: DocumentContext): DecodeResult {
  const errors: ConfigError[] = [];
  const base = {
    source: ctx.source,
    ...(ctx.document !== undefined ? { document: ctx.document } : {}),
    ...(ctx.line !== undefined ? { line: ctx.line } : {}),
  };
  if (!isPlainObject(value)) {
    errors.push({ ...base, path: '', reason: `a resource must be an object, got ${typeOf(value)}` });
    return { errors };
  }
  const kind = typeof value.kind === 'string' ? value.kind : undefined;
  const metaValue = isPlainObject(value.metadata) ? value.metadata : undefined;
  const rawName = typeof metaValue?.name === 'string' ? metaValue.name : undefined;
  const rawNamespace = typeof metaValue?.namespace === 'string' ? metaValue.namespace : undefined;
  // Errors name the namespace the object lands in, including kubectl's default.
  const namespace = rawNamespace ?? (kind !== undefined && decoders[kind]?.namespaced ? (ctx.defaultNamespace ?? 'default') : undefined);
  const context = { ...base, ...(kind ? { kind } : {}), ...(rawName ? { name: rawName } : {}), ...(namespace ? { namespace } : {}) };
  const sink = errorSink(errors, context);
  const doc = new FieldReader(value, '', sink);

  const apiVersion = doc.string('apiVersion', { required: true });
  if (kind === undefined) {
    doc.string('kind', { required: true });
    return { errors };
  }
  const decoder = decoders[kind];
  if (!decoder) {
    sink('kind', `unknown kind ${JSON.stringify(kind.slice(0, 60))} (known: ${knownKinds().join(', ')})`);
    return { errors };
  }
  if (apiVersion !== undefined && !decoder.apiVersions.includes(apiVersion)) {
    sink('apiVersion', `${kind} must be ${decoder.apiVersions.join(' or ')}, got ${JSON.stringify(apiVersion.slice(0, 60))}`);
    return { errors };
  }
  const meta = decodeMeta(doc, decoder.namespaced, ctx.defaultNamespace);
  if (!meta || apiVersion === undefined) return { errors };
  const resource = decoder.decode(doc, meta);
  return resource ? { resource, errors } : { errors };
}

function decodeMeta(doc: FieldReader, namespaced: boolean, defaultNamespace = 'default'): ObjectMeta | undefined {
  const m = doc.object('metadata', { required: true });
  if (!m) return undefined;
  const name = m.string('name', { required: true, pattern: dns1123Subdomain, what: 'a valid Kubernetes name' });
  let namespace = '';
  if (namespaced) {
    namespace = m.string('namespace', { pattern: dns1123Label, what: 'a valid namespace name' }) ?? (m.has('namespace') ? '' : defaultNamespace);
    if (namespace === '') return undefined;
  } else if (m.has('namespace')) {
    m.error('namespace', 'must not be set on a cluster-scoped kind');
  }
  const uid = m.string('uid', { maxLength: 128 });
  if (name === undefined) return undefined;
  return {
    name,
    namespace,
    labels: m.stringMap('labels', { labels: true }),
    annotations: m.stringMap('annotations'),
    ...(uid !== undefined ? { uid } : {}),
  };
}
