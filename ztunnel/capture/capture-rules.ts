// CaptureRules: owns ztunnel's nat chains in the node's network namespace. Each change is one
// `iptables-restore --noflush` transaction computed from `iptables-save` (so a second install, or
// one after a crash left old chains, ends in the same rules); a verify loop puts back chains or
// jumps someone deleted or changed. Failures are returned and logged, never thrown.
import { systemClock, type Clock, type Timer } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';
import { buildApplyScript, buildRemoveScript, captureDifferences } from './build-restore.js';
import { CaptureError, CaptureErrorCode, commandError } from './capture-error.js';
import { execFileRunner, type CommandRunner } from './command-runner.js';
import { parseIptablesSave, type SavedTable } from './parse-iptables-save.js';
import { IpFamily, planRules, type CapturePorts, type RulePlan } from './plan-rules.js';

export interface CaptureRulesOptions {
  readonly logger: Logger;
  readonly runner?: CommandRunner;
  readonly clock?: Clock;
  readonly family?: IpFamily;
  readonly ports?: CapturePorts;
  /** Period of the verify/repair loop that install() starts; 0 turns the loop off. Default 1000. */
  readonly verifyIntervalMs?: number;
  /** Per iptables command. Default 10 000. */
  readonly commandTimeoutMs?: number;
  /** Called after every repair attempt, e.g. to count it in a metric. */
  readonly onRepair?: (repair: CaptureRepair) => void;
}

export type CaptureResult =
  | {
      readonly ok: true;
      /** Whether a transaction was applied (false: the table already matched). */
      readonly changed: boolean;
      /** What differed before the change. */
      readonly differences: readonly string[];
    }
  | { readonly ok: false; readonly error: CaptureError };

export interface CaptureRepair {
  readonly differences: readonly string[];
  readonly ok: boolean;
  readonly error?: CaptureError;
}

type State = 'idle' | 'installed' | 'removed';

const tools = {
  [IpFamily.V4]: { save: 'iptables-save', restore: 'iptables-restore' },
  [IpFamily.V6]: { save: 'ip6tables-save', restore: 'ip6tables-restore' },
} as const;

const unchanged: CaptureResult = { ok: true, changed: false, differences: [] };

export class CaptureRules {
  private readonly log: Logger;
  private readonly runner: CommandRunner;
  private readonly clock: Clock;
  private readonly family: IpFamily;
  private readonly ports: CapturePorts | undefined;
  private readonly verifyIntervalMs: number;
  private readonly commandTimeoutMs: number;
  private readonly onRepair: ((repair: CaptureRepair) => void) | undefined;
  private desired: RulePlan;
  private state: State = 'idle';
  private queue: Promise<unknown> = Promise.resolve();
  private timer: Timer | undefined;
  private repairs = 0;
  /** The last failure logged by the loop, so a lasting failure is logged once, not every second. */
  private loopFailure: string | undefined;

  constructor(opts: CaptureRulesOptions) {
    this.log = opts.logger.child({ component: 'capture' });
    this.runner = opts.runner ?? execFileRunner;
    this.clock = opts.clock ?? systemClock;
    this.family = opts.family ?? IpFamily.V4;
    this.ports = opts.ports;
    this.verifyIntervalMs = opts.verifyIntervalMs ?? 1000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
    this.onRepair = opts.onRepair;
    this.desired = this.plan([]);
  }

  /** Repairs made by verify() since construction (each detected drift counts once). */
  get repairCount(): number {
    return this.repairs;
  }

  /** The plan currently wanted (pods, rules). */
  get currentPlan(): RulePlan {
    return this.desired;
  }

  /** Creates or fixes the chains and jumps, writes the rules for `podIps`, starts the verify loop. */
  install(podIps: readonly string[]): Promise<CaptureResult> {
    this.state = 'installed';
    this.setDesired(podIps);
    const result = this.enqueue(() => this.apply('install'));
    this.schedule();
    return result;
  }

  /** Makes the chains hold exactly the rules for `podIps`, in one transaction (install() if not yet). */
  reconcile(podIps: readonly string[]): Promise<CaptureResult> {
    if (this.state !== 'installed') return this.install(podIps);
    this.setDesired(podIps);
    return this.enqueue(() => this.apply('reconcile'));
  }

  /** Compares the table with the plan and restores it when it drifted. A no-op unless installed. */
  verify(): Promise<CaptureResult> {
    return this.enqueue(async () => {
      if (this.state !== 'installed') return unchanged;
      const r = await this.apply('verify');
      if (r.ok && r.changed) {
        this.repairs++;
        this.log.warn({ differences: r.differences, repairs: this.repairs }, 'capture rules drifted, restored');
        this.onRepair?.({ differences: r.differences, ok: true });
      } else if (!r.ok && 'differences' in r && r.differences) {
        this.onRepair?.({ differences: r.differences, ok: false, error: r.error });
      }
      return r.ok ? r : { ok: false, error: r.error };
    });
  }

  /** Stops the verify loop and leaves the rules in place (a restart takes them over). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.state === 'installed') this.state = 'idle';
  }

  /** Stops the loop and deletes the jumps and chains, leaving the rest of the nat table as it was. */
  remove(): Promise<CaptureResult> {
    this.timer?.cancel();
    this.timer = undefined;
    this.state = 'removed';
    return this.enqueue(async () => {
      const read = await this.readTable();
      if (!read.ok) return this.failed('remove', read.error);
      const script = buildRemoveScript(read.table);
      if (script === undefined) return unchanged;
      const error = await this.restore(script);
      if (error) return this.failed('remove', error);
      this.log.info('capture rules removed');
      return { ok: true, changed: true, differences: [] };
    });
  }

  /** ztunnel's view of the nat table now (for an admin page or a test). */
  async readTable(): Promise<{ readonly ok: true; readonly table: SavedTable; readonly text: string } | { readonly ok: false; readonly error: CaptureError }> {
    const file = tools[this.family].save;
    const r = await this.run(file, ['-t', 'nat']);
    if ('error' in r) return { ok: false, error: r.error };
    return { ok: true, table: parseIptablesSave(r.stdout, 'nat'), text: r.stdout };
  }

  private plan(podIps: readonly string[]): RulePlan {
    return planRules(podIps, this.ports ? { family: this.family, ports: this.ports } : { family: this.family });
  }

  private setDesired(podIps: readonly string[]): void {
    this.desired = this.plan(podIps);
    if (this.desired.rejected.length > 0) {
      this.log.warn({ rejected: this.desired.rejected, family: this.family }, 'capture skips addresses that are not pod ips of its family');
    }
  }

  /** On failure, `differences` is set when the table was read and the fix itself failed. */
  private async apply(why: 'install' | 'reconcile' | 'verify'): Promise<CaptureResult | { readonly ok: false; readonly error: CaptureError; readonly differences?: readonly string[] }> {
    const plan = this.desired;
    const read = await this.readTable();
    if (!read.ok) return this.failed(why, read.error);
    const differences = captureDifferences(plan, read.table);
    if (differences.length === 0) {
      if (why === 'verify') this.recovered();
      return unchanged;
    }
    const error = await this.restore(buildApplyScript(plan, read.table));
    if (error) return { ...this.failed(why, error), differences };
    if (why === 'verify') this.recovered();
    else this.log.info({ pods: plan.pods.length, rules: plan.rules.length, why }, 'capture rules applied');
    return { ok: true, changed: true, differences };
  }

  private async restore(script: string): Promise<CaptureError | undefined> {
    const file = tools[this.family].restore;
    // --wait: the legacy backend takes the xtables lock, which another agent may hold for a moment.
    const r = await this.run(file, ['--noflush', '--wait=5'], script);
    return 'error' in r ? r.error : undefined;
  }

  private async run(file: string, args: readonly string[], input?: string): Promise<{ readonly stdout: string } | { readonly error: CaptureError }> {
    try {
      const r = await this.runner.run(file, args, input === undefined ? { timeoutMs: this.commandTimeoutMs } : { input, timeoutMs: this.commandTimeoutMs });
      if (r.exitCode === 0) return { stdout: r.stdout };
      return { error: commandError(file, { exitCode: r.exitCode, stderr: r.stderr }) };
    } catch (err) {
      return { error: commandError(file, { spawnError: err }) };
    }
  }

  private failed(why: string, error: CaptureError): { readonly ok: false; readonly error: CaptureError } {
    if (why !== 'verify') {
      this.log.error({ code: error.code, err: error.message, why }, 'capture rules failed');
    } else if (this.loopFailure !== error.message) {
      this.loopFailure = error.message;
      this.log.error({ code: error.code, err: error.message }, 'capture rules cannot be verified');
    }
    return { ok: false, error };
  }

  private recovered(): void {
    if (this.loopFailure === undefined) return;
    this.loopFailure = undefined;
    this.log.info('capture rules verified again');
  }

  private schedule(): void {
    if (this.state !== 'installed' || this.verifyIntervalMs <= 0 || this.timer) return;
    this.timer = this.clock.setTimer(this.verifyIntervalMs, () => {
      this.timer = undefined;
      void this.verify().then(() => this.schedule());
    });
  }

  private enqueue(op: () => Promise<CaptureResult>): Promise<CaptureResult> {
    const run = async (): Promise<CaptureResult> => {
      try {
        return await op();
      } catch (err) {
        // Not expected (every step returns its failure); kept so a bug cannot crash ztunnel.
        const error = new CaptureError(CaptureErrorCode.Failed, `capture rules: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        this.log.error({ err: error.message }, 'capture rules failed');
        return { ok: false, error };
      }
    };
    const result = this.queue.then(run);
    this.queue = result;
    return result;
  }
}
