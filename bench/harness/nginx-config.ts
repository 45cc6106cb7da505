// nginx configurations for the benchmark, as plain strings: the HTTP backend every path ends at,
// and the two halves of the nginx `stream` mTLS pair that is the baseline for the Ambit hop.
// Each nginx runs in the foreground with one worker, everything it writes under its own prefix.

export interface NginxBase {
  /** Directory for the pid file, logs and temp paths of this instance. */
  readonly prefix: string;
}

export interface BackendConfig extends NginxBase {
  readonly port: number;
  /** Body of `GET /`: the small fixed response of the request tests. */
  readonly smallBody: string;
  /** Directory holding `bulk.bin`, served at `GET /bulk.bin` with sendfile. */
  readonly bulkRoot: string;
}

export interface CertPaths {
  readonly keyPem: string;
  readonly chainPem: string;
  readonly rootPem: string;
}

export interface StreamClientConfig extends NginxBase {
  readonly streamModule?: string | undefined;
  readonly listenPort: number;
  readonly serverPort: number;
  readonly cert: CertPaths;
}

export interface StreamServerConfig extends NginxBase {
  readonly streamModule?: string | undefined;
  readonly listenPort: number;
  readonly backendPort: number;
  readonly cert: CertPaths;
}

function preamble(b: NginxBase, streamModule?: string): string[] {
  return [
    '# written by bench/hbone-hop for one run',
    ...(streamModule ? [`load_module ${streamModule};`] : []),
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    'worker_rlimit_nofile 65536;',
    `pid ${b.prefix}/nginx.pid;`,
    `error_log ${b.prefix}/error.log warn;`,
    'events { worker_connections 16384; }',
  ];
}

function quote(s: string): string {
  if (/["\\$\n]/.test(s)) throw new Error(`nginx-config: cannot quote ${JSON.stringify(s)}`);
  return `"${s}"`;
}

export function buildBackendConfig(c: BackendConfig): string {
  return [
    ...preamble(c),
    'http {',
    '  access_log off;',
    '  server_tokens off;',
    '  sendfile on;',
    '  tcp_nopush on;',
    '  tcp_nodelay on;',
    '  keepalive_timeout 300s;',
    '  keepalive_requests 100000000;',
    `  client_body_temp_path ${c.prefix}/client_body;`,
    `  proxy_temp_path ${c.prefix}/proxy;`,
    `  fastcgi_temp_path ${c.prefix}/fastcgi;`,
    `  uwsgi_temp_path ${c.prefix}/uwsgi;`,
    `  scgi_temp_path ${c.prefix}/scgi;`,
    '  server {',
    `    listen 127.0.0.1:${c.port} backlog=4096;`,
    `    location = /bulk.bin { root ${c.bulkRoot}; default_type application/octet-stream; }`,
    `    location / { default_type text/plain; return 200 ${quote(c.smallBody)}; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * Plain TCP in, mTLS out. `proxy_ssl_verify` is off because nginx checks a server certificate
 * only by DNS name or CN, and Ambit's SPIFFE leaves carry just a URI SAN and an empty subject;
 * the server side still requires and verifies the client certificate.
 */
export function buildStreamClientConfig(c: StreamClientConfig): string {
  return [
    ...preamble(c, c.streamModule),
    'stream {',
    '  server {',
    `    listen 127.0.0.1:${c.listenPort} backlog=4096;`,
    `    proxy_pass 127.0.0.1:${c.serverPort};`,
    '    proxy_ssl on;',
    '    proxy_ssl_protocols TLSv1.3;',
    `    proxy_ssl_certificate ${c.cert.chainPem};`,
    `    proxy_ssl_certificate_key ${c.cert.keyPem};`,
    `    proxy_ssl_trusted_certificate ${c.cert.rootPem};`,
    '    proxy_ssl_verify off;',
    '    proxy_ssl_session_reuse on;',
    '  }',
    '}',
    '',
  ].join('\n');
}

export function buildStreamServerConfig(c: StreamServerConfig): string {
  return [
    ...preamble(c, c.streamModule),
    'stream {',
    '  server {',
    `    listen 127.0.0.1:${c.listenPort} ssl backlog=4096;`,
    '    ssl_protocols TLSv1.3;',
    `    ssl_certificate ${c.cert.chainPem};`,
    `    ssl_certificate_key ${c.cert.keyPem};`,
    `    ssl_client_certificate ${c.cert.rootPem};`,
    '    ssl_verify_client on;',
    `    proxy_pass 127.0.0.1:${c.backendPort};`,
    '  }',
    '}',
    '',
  ].join('\n');
}
