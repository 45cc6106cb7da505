// A small process run inside a namespace by the netns tier (`node netns-agent.js <name>`): it
// listens and connects on command and tells what each connection looked like from its end,
// including the kernel's original destination. Commands arrive as JSON lines on stdin; answers
// and events leave as JSON lines on stdout. Every accepted connection is answered with one JSON
// line (what this end saw) and closed, so the connecting side learns where it really landed.
import net from 'node:net';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { lookupOriginalDst, type SocketAddress } from '../../shared/net/orig-dst.js';

export type AgentCommand =
  | { readonly op: 'listen'; readonly id: number; readonly port: number; readonly host?: string }
  | { readonly op: 'connect'; readonly id: number; readonly ip: string; readonly port: number; readonly timeoutMs?: number };

/** What the accepting end saw; sent to the client and reported as an `accepted` event. */
export interface AcceptReport {
  readonly agent: string;
  readonly listenPort: number;
  readonly local: SocketAddress;
  readonly remote: SocketAddress;
  /** The kernel's SO_ORIGINAL_DST, null when the connection was not redirected. */
  readonly originalDst: SocketAddress | null;
  readonly originalDstReason?: string;
}

export type AgentMessage =
  | { readonly event: 'ready'; readonly agent: string; readonly pid: number }
  | { readonly event: 'accepted'; readonly report: AcceptReport }
  | { readonly id: number; readonly ok: true; readonly local?: SocketAddress; readonly reply?: AcceptReport }
  | { readonly id: number; readonly ok: false; readonly error: string };

function plain(ip: string | undefined): string {
  return ip?.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : (ip ?? '');
}

function main(name: string): void {
  const servers: net.Server[] = [];
  const send = (m: AgentMessage): void => {
    process.stdout.write(`${JSON.stringify(m)}\n`);
  };

  const listen = (cmd: Extract<AgentCommand, { op: 'listen' }>): void => {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      const dst = lookupOriginalDst(socket);
      const report: AcceptReport = {
        agent: name,
        listenPort: cmd.port,
        local: { ip: plain(socket.localAddress), port: socket.localPort ?? 0 },
        remote: { ip: plain(socket.remoteAddress), port: socket.remotePort ?? 0 },
        originalDst: dst.ok ? dst.address : null,
        ...(dst.ok ? {} : { originalDstReason: dst.reason }),
      };
      send({ event: 'accepted', report });
      socket.end(`${JSON.stringify(report)}\n`);
    });
    server.once('error', (err) => send({ id: cmd.id, ok: false, error: err.message }));
    server.listen(cmd.port, cmd.host ?? '0.0.0.0', () => {
      servers.push(server);
      send({ id: cmd.id, ok: true });
    });
  };

  const connect = (cmd: Extract<AgentCommand, { op: 'connect' }>): void => {
    const socket = net.connect({ host: cmd.ip, port: cmd.port });
    let data = '';
    let local: SocketAddress | undefined;
    let done = false;
    const finish = (m: AgentMessage): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      send(m);
    };
    const timer = setTimeout(() => finish({ id: cmd.id, ok: false, error: 'ETIMEDOUT' }), cmd.timeoutMs ?? 3000);
    socket.on('connect', () => {
      local = { ip: plain(socket.localAddress), port: socket.localPort ?? 0 };
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('end', () => {
      try {
        finish({ id: cmd.id, ok: true, ...(local ? { local } : {}), reply: JSON.parse(data) as AcceptReport });
      } catch {
        finish({ id: cmd.id, ok: false, error: `unreadable reply ${JSON.stringify(data.slice(0, 200))}` });
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ id: cmd.id, ok: false, error: err.code ?? err.message }));
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    const cmd = JSON.parse(line) as AgentCommand;
    if (cmd.op === 'listen') listen(cmd);
    else connect(cmd);
  });
  // The test closing our stdin (or dying) ends the agent.
  lines.on('close', () => {
    for (const s of servers) s.close();
    process.exit(0);
  });
  process.on('SIGTERM', () => process.exit(0));
  send({ event: 'ready', agent: name, pid: process.pid });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv[2] ?? 'agent');
