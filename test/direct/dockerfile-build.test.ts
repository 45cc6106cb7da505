// Direct tier: the Dockerfile's `build` and `runtime` stages, run without docker. Each stage gets a
// clean folder standing in for its filesystem (/app -> <tmp>/<stage>/app); COPY takes files from
// the build context (tracked and untracked-but-not-ignored files, minus .dockerignore) or an
// earlier stage, RUN runs in the stage's WORKDIR, and the ENTRYPOINT must then answer --help for
// every process the manifests start. The `os` stage (apt-get) is checked to hold only OS packages.
// npm may use its local cache first (npm_config_prefer_offline); with no registry and no cache the
// test skips outside CI and fails under CI, like the other tiers' missing tools.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dockerIgnoreMatcher, parseCopy, parseDockerfile, parseExecForm, type DockerStage } from '../support/dockerfile-steps.js';

const repoRoot = new URL('../../../', import.meta.url).pathname;
const networkError = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|request to .* failed/;

function ok<T>(v: T | { error: string }): T {
  if (typeof v === 'object' && v !== null && 'error' in v) assert.fail(v.error);
  return v as T;
}

/** The docker build context: what `git` sees in the worktree (tracked + untracked, not ignored), minus .dockerignore. */
function contextFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, `git ls-files failed: ${r.stderr}`);
  const ignored = ok(dockerIgnoreMatcher(readFileSync(join(repoRoot, '.dockerignore'), 'utf8')));
  return r.stdout.split('\0').filter((f) => f !== '' && !ignored(f) && existsSync(join(repoRoot, f)) && statSync(join(repoRoot, f)).isFile());
}

describe('Dockerfile', () => {
  const work = mkdtempSync(join(tmpdir(), 'ambit-docker-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const stages = ok(parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))).stages;
  const stage = (name: string): DockerStage => stages.find((s) => s.name === name) ?? assert.fail(`no stage ${name}`);
  const rootOf = (name: string): string => join(work, name);

  it('builds on Node 20 LTS and runs the runtime as the non-root node user', () => {
    assert.match(stage('build').from, /^node:20[-.]/);
    const os = stage('os');
    assert.match(os.from, /^node:20[-.]/);
    assert.equal(stage('runtime').from, 'os');
    // The test skips the os stage: it may only install OS packages.
    for (const s of os.steps) assert.ok(s.op === 'RUN' && /^apt-get /.test(s.text), `os stage step not skippable: ${s.op} ${s.text}`);
    const users = stage('runtime').steps.filter((s) => s.op === 'USER').map((s) => s.text);
    assert.deepEqual(users, ['node']);
    assert.ok(stage('runtime').steps.some((s) => s.op === 'RUN' && s.text.includes('npm ci --omit=dev')), 'runtime installs production dependencies only');
  });

  it('runs the build and runtime steps in a clean folder, and the entrypoint answers --help', { timeout: 240_000 }, (t) => {
    const context = contextFiles();
    assert.ok(context.includes('package-lock.json') && context.includes('cli/ambit.ts'));
    assert.ok(!context.some((f) => f.startsWith('node_modules/') || f.startsWith('dist/')), 'node_modules and dist stay out of the context');
    let entrypoint: string[] = [];
    for (const name of ['build', 'runtime']) {
      const root = rootOf(name);
      let workdir = root;
      const env: NodeJS.ProcessEnv = { ...process.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false' };
      for (const step of stage(name).steps) {
        if (step.op === 'WORKDIR') {
          workdir = join(root, step.text);
          mkdirSync(workdir, { recursive: true });
        } else if (step.op === 'ENV') {
          const [k, ...v] = step.text.split('=');
          env[k!] = v.join('=');
        } else if (step.op === 'COPY') {
          const c = ok(parseCopy(step.text));
          const dest = join(workdir, c.dest);
          for (const src of c.sources) {
            if (c.fromStage !== undefined) {
              cpSync(join(rootOf(c.fromStage), src), dest, { recursive: true });
            } else if (src === '.') {
              for (const f of context) {
                mkdirSync(dirname(join(dest, f)), { recursive: true });
                cpSync(join(repoRoot, f), join(dest, f));
              }
            } else {
              assert.ok(context.includes(src), `COPY ${src}: not in the build context`);
              mkdirSync(dest, { recursive: true });
              cpSync(join(repoRoot, src), join(dest, src));
            }
          }
        } else if (step.op === 'RUN') {
          const r = spawnSync('sh', ['-c', step.text], { cwd: workdir, env, encoding: 'utf8', timeout: 180_000 });
          const output = `${r.stdout}\n${r.stderr}`;
          if (r.status !== 0 && networkError.test(output) && !process.env.CI) {
            t.skip(`npm registry unreachable and not in the local cache: ${step.text}`);
            return;
          }
          assert.equal(r.status, 0, `[${name}] RUN ${step.text} failed:\n${output.slice(-3000)}`);
        } else if (step.op === 'ENTRYPOINT') {
          // Absolute paths in the image map into the stage's folder.
          entrypoint = ok(parseExecForm(step.text)).map((a) => (a.startsWith('/') ? join(root, a) : a));
        }
      }
    }
    const app = join(rootOf('runtime'), 'app');
    assert.ok(existsSync(join(app, 'node_modules', '@kubernetes', 'client-node')), 'runtime dependencies installed');
    assert.ok(!existsSync(join(app, 'node_modules', 'typescript')), 'dev dependencies are not in the runtime');
    assert.ok(!existsSync(join(app, 'dist', 'test')) && !existsSync(join(app, 'dist', 'bench')), 'tests and benchmarks stay out');
    const tests = spawnSync('find', [join(app, 'dist'), '-name', '*.test.js'], { encoding: 'utf8' });
    assert.equal(tests.stdout, '', 'unit tests beside the code are removed');
    assert.ok(existsSync(join(app, 'manifests', 'waypoint', 'waypoint-template.yaml')), 'the control plane\'s waypoint template is in the image');
    assert.deepEqual(entrypoint.slice(0, 1), ['node']);
    for (const cmd of [[], ['controlplane'], ['ztunnel'], ['waypoint'], ['waypoint', 'apply']]) {
      // Run from elsewhere, so nothing resolves against the worktree's node_modules.
      const r = spawnSync(process.execPath, [...entrypoint.slice(1), ...cmd, '--help'], { cwd: work, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, `ambit ${cmd.join(' ')} --help failed:\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: ambit${cmd.map((c) => ` ${c}`).join('')} `));
    }
  });
});
