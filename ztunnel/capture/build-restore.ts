// Pure steps between the plan and iptables-restore: what differs between a plan and the saved nat
// table, and the one `iptables-restore --noflush` transaction that makes the table match (or that
// removes every trace of ztunnel's chains). Each script is all-or-nothing in the kernel.
import { captureHooks, type CaptureChain, type RulePlan } from './plan-rules.js';
import { ruleTarget, type SavedTable } from './parse-iptables-save.js';

interface Reference {
  readonly chain: string;
  readonly spec: string;
}

/** Every rule, in any other chain, that jumps or goes to `target`. */
function referencesTo(table: SavedTable, target: CaptureChain): Reference[] {
  const refs: Reference[] = [];
  for (const [chain, saved] of table.chains) {
    if (chain === target) continue;
    for (const spec of saved.rules) if (ruleTarget(spec) === target) refs.push({ chain, spec });
  }
  return refs;
}

/** Human-readable differences between the table and the plan; empty when they match. */
export function captureDifferences(plan: RulePlan, table: SavedTable): string[] {
  const out: string[] = [];
  for (const { chain, hook } of captureHooks) {
    const saved = table.chains.get(chain);
    if (!saved) {
      out.push(`chain ${chain} is missing`);
    } else {
      const want = plan.rules.filter((r) => r.chain === chain).map((r) => r.spec);
      const missing = want.filter((s) => !saved.rules.includes(s));
      const unexpected = saved.rules.filter((s) => !want.includes(s));
      for (const s of missing) out.push(`${chain} lacks: ${s}`);
      for (const s of unexpected) out.push(`${chain} has unexpected: ${s}`);
      if (missing.length === 0 && unexpected.length === 0 && saved.rules.join('\n') !== want.join('\n')) {
        out.push(`${chain} rules are out of order or duplicated`);
      }
    }
    const refs = referencesTo(table, chain);
    const jumps = refs.filter((r) => r.chain === hook && r.spec === `-j ${chain}`).length;
    if (jumps !== 1) out.push(`${hook} has ${jumps} jumps to ${chain} (want 1)`);
    for (const r of refs) {
      if (!(r.chain === hook && r.spec === `-j ${chain}`)) out.push(`unexpected reference to ${chain} in ${r.chain}: ${r.spec}`);
    }
  }
  return out;
}

/**
 * The transaction that leaves exactly the plan: chains created (or flushed: declaring a chain
 * with --noflush empties it, `-F` says so for every iptables variant), one `-j` from each hook
 * chain (kept if present, else inserted first), any other reference deleted, then the rules.
 */
export function buildApplyScript(plan: RulePlan, table: SavedTable): string {
  const lines = [`*${plan.table}`];
  for (const { chain } of captureHooks) lines.push(`:${chain} - [0:0]`);
  for (const { chain } of captureHooks) lines.push(`-F ${chain}`);
  for (const { chain, hook } of captureHooks) {
    let kept = false;
    for (const r of referencesTo(table, chain)) {
      if (!kept && r.chain === hook && r.spec === `-j ${chain}`) {
        kept = true;
        continue;
      }
      lines.push(`-D ${r.chain} ${r.spec}`);
    }
    if (!kept) lines.push(`-I ${hook} 1 -j ${chain}`);
  }
  for (const r of plan.rules) lines.push(`-A ${r.chain} ${r.spec}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** The transaction that deletes every reference to ztunnel's chains and the chains; undefined if none exist. */
export function buildRemoveScript(table: SavedTable, tableName = 'nat'): string | undefined {
  const lines = [`*${tableName}`];
  for (const { chain } of captureHooks) {
    for (const r of referencesTo(table, chain)) lines.push(`-D ${r.chain} ${r.spec}`);
  }
  for (const { chain } of captureHooks) {
    if (table.chains.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
  }
  if (lines.length === 1) return undefined;
  lines.push('COMMIT', '');
  return lines.join('\n');
}
