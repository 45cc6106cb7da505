// ConfigError: one bad piece of user input, named so a person can find and fix it — source
// (file or API object), document, kind, namespace/name, field path and reason. Config errors are
// values collected by decoders, never thrown: the rest of the input still applies.

export interface ConfigError {
  /** A file path, or `kube` for objects from the API server. */
  readonly source: string;
  /** 0-based index of the YAML document in a multi-document file. */
  readonly document?: number;
  /** 1-based line of the document (or of the error, when the YAML parser knows it). */
  readonly line?: number;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  /** Dotted field path (`spec.ports[1].targetPort`), empty for the whole document. */
  readonly path: string;
  readonly reason: string;
}

export function formatConfigError(e: ConfigError): string {
  const where = [e.source, e.document !== undefined ? `document ${e.document}` : '', e.line !== undefined ? `line ${e.line}` : '']
    .filter(Boolean)
    .join(', ');
  const what = e.kind ? ` ${e.kind}${e.name ? ` ${e.namespace ? `${e.namespace}/` : ''}${e.name}` : ''}` : '';
  const field = e.path ? ` ${e.path}:` : '';
  return `${where}:${what}${field} ${e.reason}`;
}
