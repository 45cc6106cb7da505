// FileSource: the embedded default source. Watches a folder (recursively) or a single file of
// multi-document YAML/JSON and feeds each file into the ConfigStore as its own source: edits apply
// within ~50 ms plus the recompile, a deleted file removes its objects, a broken file keeps its last good objects.
// A rescan every second backs the watch up: Node 20's recursive fs.watch on Linux stops reporting a
// file that is replaced by rename (atomic saves) after the second replacement.
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from '../log.js';
import { formatConfigError } from './config-error.js';
import type { ConfigStore, ModelDelta } from './config-store.js';

const configFile = /\.(ya?ml|json)$/i;
const maxDepth = 8;

export interface FileSourceOptions {
  readonly path: string;
  readonly store: ConfigStore;
  readonly logger: Logger;
  readonly debounceMs?: number;
  /** Rescan interval behind the watch (0: none). Default 1 s. */
  readonly pollMs?: number;
}

export class FileSource {
  private readonly opts: FileSourceOptions;
  private readonly seen = new Map<string, string>(); // file → "mtime:size"
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private poll?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private rescanRequested = false;
  private closed = false;

  constructor(opts: FileSourceOptions) {
    this.opts = opts;
  }

  /** Loads everything once, then watches. Resolves after the first load. */
  async start(): Promise<ModelDelta | undefined> {
    const delta = await this.scan();
    const info = await stat(this.opts.path);
    this.watcher = watch(this.opts.path, { recursive: info.isDirectory(), persistent: false }, () => this.schedule());
    this.watcher.on('error', (err) => this.opts.logger.warn({ err: err.message, path: this.opts.path }, 'config watch error'));
    const pollMs = this.opts.pollMs ?? 1_000;
    if (pollMs > 0) {
      // A scan only re-reads files whose mtime or size changed: cheap when nothing did.
      this.poll = setInterval(() => void this.rescan(), pollMs);
      this.poll.unref();
    }
    return delta;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.rescan(), this.opts.debounceMs ?? 50);
    this.timer.unref();
  }

  /** One scan at a time; a change during a scan triggers one more afterwards. */
  private async rescan(): Promise<void> {
    if (this.scanning) {
      this.rescanRequested = true;
      return;
    }
    this.scanning = this.scan().then(
      () => undefined,
      (err: unknown) => this.opts.logger.error({ err: (err as Error).message }, 'config scan failed'),
    );
    await this.scanning;
    this.scanning = undefined;
    if (this.rescanRequested && !this.closed) {
      this.rescanRequested = false;
      await this.rescan();
    }
  }

  private async listFiles(): Promise<string[]> {
    const root = this.opts.path;
    const info = await stat(root).catch(() => undefined);
    if (!info) return [];
    if (info.isFile()) return [root];
    const out: string[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      if (depth > maxDepth) return;
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        if (entry.name.startsWith('.')) continue; // editors' swap files, ..data symlinks of ConfigMaps
        const p = join(dir, entry.name);
        if (entry.isDirectory()) await walk(p, depth + 1);
        else if (entry.isFile() && configFile.test(entry.name)) out.push(p);
      }
    };
    await walk(root, 0);
    return out.sort();
  }

  private async scan(): Promise<ModelDelta | undefined> {
    const startedAt = performance.now();
    const files = await this.listFiles();
    const reads: { source: string; text?: string; error?: string }[] = [];
    for (const file of files) {
      const info = await stat(file).catch(() => undefined);
      if (!info) continue;
      const signature = `${info.mtimeMs}:${info.size}`;
      if (this.seen.get(file) === signature) continue;
      this.seen.set(file, signature);
      const text = await readFile(file, 'utf8').catch((err: Error) => ({ error: err.message }));
      reads.push(typeof text === 'string' ? { source: this.sourceName(file), text } : { source: this.sourceName(file), error: text.error });
    }
    const removed = [...this.seen.keys()].filter((f) => !files.includes(f));
    for (const f of removed) this.seen.delete(f);
    if (reads.length === 0 && removed.length === 0) return undefined;
    const readAt = performance.now();
    const delta = this.opts.store.update((set) => {
      for (const r of reads) {
        if (r.text !== undefined) set.applyText(r.source, r.text);
        else this.opts.logger.warn({ source: r.source, err: r.error }, 'config file unreadable; keeping its last good objects');
      }
      for (const f of removed) set.removeSource(this.sourceName(f));
    });
    const updatedAt = performance.now();
    const changed = new Set(reads.map((r) => r.source));
    for (const e of this.opts.store.errors) if (changed.has(e.source)) this.opts.logger.warn({ error: formatConfigError(e) }, 'config error');
    this.opts.logger.info({ files: files.length, changed: reads.length, removed: removed.length, version: this.opts.store.version,
      readMs: Math.round(readAt - startedAt), updateMs: Math.round(updatedAt - readAt) }, 'config loaded');
    return delta;
  }

  private sourceName(file: string): string {
    return file === this.opts.path ? file : relative(this.opts.path, file) || file;
  }
}
