// Logger: pino, passed in to every component (never global). Messages are stable lowercase
// strings; data goes in fields.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options = { level: opts.level ?? 'info', base: opts.name ? { component: opts.name } : null };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that discards everything, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
