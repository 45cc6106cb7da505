// nginx configurations for bench/waypoint-hop.ts: the HTTP backend (one worker, a fixed body on
// every address it is given: 127.0.0.1 for the direct and nginx paths, the pod addresses for the
// mesh paths) and nginx as an HTTP reverse proxy in front of it (the L7 baseline of the waypoint:
// `proxy_pass` with HTTP/1.1 keep-alive to the upstream, one worker).

export interface ListenAddr {
  readonly host: string;
  readonly port: number;
}

export interface HttpBackendConfig {
  readonly prefix: string;
  readonly listen: readonly ListenAddr[];
  /** Body of every response (`GET` of any path). */
  readonly body: string;
}

export interface HttpProxyConfig {
  readonly prefix: string;
  readonly listen: ListenAddr;
  readonly upstream: ListenAddr;
  /** Idle keep-alive connections nginx keeps per worker to the upstream. */
  readonly keepalive: number;
}

function preamble(prefix: string): string[] {
  return [
    '# written by bench/waypoint-hop for one run',
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    'worker_rlimit_nofile 65536;',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log warn;`,
    'events { worker_connections 16384; }',
    'http {',
    '  access_log off;',
    '  server_tokens off;',
    '  tcp_nodelay on;',
    '  keepalive_timeout 300s;',
    '  keepalive_requests 100000000;',
    `  client_body_temp_path ${prefix}/client_body;`,
    `  proxy_temp_path ${prefix}/proxy;`,
    `  fastcgi_temp_path ${prefix}/fastcgi;`,
    `  uwsgi_temp_path ${prefix}/uwsgi;`,
    `  scgi_temp_path ${prefix}/scgi;`,
  ];
}

const addr = (a: ListenAddr): string => `${a.host}:${a.port}`;

export function buildHttpBackendConfig(c: HttpBackendConfig): string {
  if (!/^[\x20-\x7e]*$/.test(c.body) || /["\\$]/.test(c.body)) throw new Error('nginx-l7-config: the body must be printable ASCII without quotes, backslashes or $');
  if (c.listen.length === 0) throw new Error('nginx-l7-config: the backend needs at least one listen address');
  return [
    ...preamble(c.prefix),
    '  server {',
    ...c.listen.map((l) => `    listen ${addr(l)} backlog=4096;`),
    `    location / { default_type text/plain; return 200 "${c.body}"; }`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The reverse proxy: HTTP/1.1 to a keep-alive upstream pool (`proxy_http_version 1.1` and an
 * empty Connection header are what make nginx reuse upstream connections).
 */
export function buildHttpProxyConfig(c: HttpProxyConfig): string {
  return [
    ...preamble(c.prefix),
    `  upstream backend { server ${addr(c.upstream)}; keepalive ${c.keepalive}; keepalive_requests 100000000; keepalive_timeout 300s; }`,
    '  server {',
    `    listen ${addr(c.listen)} backlog=4096;`,
    '    location / {',
    '      proxy_pass http://backend;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}
