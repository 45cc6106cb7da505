// A small reader for this repository's Dockerfile and .dockerignore, so a test can run the image's
// build steps without docker: stages (FROM ... AS name) with their WORKDIR/COPY/RUN/ENV/USER/
// ENTRYPOINT instructions in order. Only the forms the Dockerfile uses are understood; anything
// else is reported, so the test fails instead of silently skipping a step.

export interface DockerStep {
  readonly op: 'WORKDIR' | 'COPY' | 'RUN' | 'ENV' | 'USER' | 'ENTRYPOINT' | 'CMD' | 'EXPOSE';
  /** The instruction's text after the keyword, continuation lines joined. */
  readonly text: string;
}

export interface DockerStage {
  readonly name: string;
  /** The base: an image reference or an earlier stage's name. */
  readonly from: string;
  readonly steps: readonly DockerStep[];
}

const knownOps = new Set(['WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'ENTRYPOINT', 'CMD', 'EXPOSE']);

/** Stages of a Dockerfile, or the first instruction it does not understand. */
export function parseDockerfile(text: string): { stages: DockerStage[] } | { error: string } {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push((pending + line).trim());
    pending = '';
  }
  const stages: { name: string; from: string; steps: DockerStep[] }[] = [];
  for (const line of lines) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const op = keyword.toUpperCase();
    const body = line.slice(keyword.length).trim();
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(body);
      if (!m) return { error: `FROM ${body}: expected IMAGE [AS NAME]` };
      stages.push({ from: m[1]!, name: m[2] ?? String(stages.length), steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) return { error: `${op} before the first FROM` };
    if (!knownOps.has(op)) return { error: `unsupported instruction ${op} ${rest.join(' ')}` };
    stage.steps.push({ op: op as DockerStep['op'], text: body });
  }
  return { stages };
}

export interface CopyStep {
  /** The stage the files come from, or undefined for the build context. */
  readonly fromStage?: string;
  readonly sources: readonly string[];
  readonly dest: string;
}

/** COPY [--from=STAGE] [--chown=...] SRC... DEST (shell form only). */
export function parseCopy(text: string): CopyStep | { error: string } {
  const words = text.split(/\s+/);
  let fromStage: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    if (flag.startsWith('--from=')) fromStage = flag.slice('--from='.length);
    else if (!flag.startsWith('--chown=') && !flag.startsWith('--chmod=')) return { error: `COPY flag ${flag} not understood` };
  }
  if (words.length < 2) return { error: `COPY ${text}: needs a source and a destination` };
  return { fromStage, sources: words.slice(0, -1), dest: words.at(-1)! };
}

/**
 * A .dockerignore as a predicate over context-relative paths: a plain pattern excludes that path
 * and everything under it; `*` matches within one path segment, `**` across segments.
 * Exceptions (`!`) are not supported and reported.
 */
export function dockerIgnoreMatcher(text: string): ((path: string) => boolean) | { error: string } {
  const patterns: RegExp[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('!')) return { error: `.dockerignore exception ${line} not supported` };
    const glob = line.replace(/^\/+|\/+$/g, '');
    const re = glob
      .split('**')
      .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
      .join('.*');
    // Docker matches patterns from the context root; a bare `*.log` matches only at the top level.
    patterns.push(new RegExp(`^${re}(/.*)?$`));
  }
  return (path: string) => patterns.some((p) => p.test(path));
}

/** ENTRYPOINT in exec (JSON array) form. */
export function parseExecForm(text: string): string[] | { error: string } {
  try {
    const v = JSON.parse(text) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // fall through
  }
  return { error: `expected exec form ["cmd", ...], got ${text}` };
}
