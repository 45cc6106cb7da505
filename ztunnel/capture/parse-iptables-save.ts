// parseIptablesSave(): one table of `iptables-save` output as chains and their rule specs, the
// ground truth CaptureRules compares its plan with (and finds every rule that jumps to its chains).

export interface SavedChain {
  /** ACCEPT/DROP for a built-in chain, `-` for a user-defined one. */
  readonly policy: string;
  /** Each rule after `-A <chain> `, in order. */
  readonly rules: readonly string[];
}

export interface SavedTable {
  readonly name: string;
  /** Chains in the order iptables-save declared them. */
  readonly chains: ReadonlyMap<string, SavedChain>;
}

/** The named table of iptables-save text; an absent table comes back with no chains. */
export function parseIptablesSave(text: string, table: string): SavedTable {
  const chains = new Map<string, { policy: string; rules: string[] }>();
  let inTable = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      inTable = line.slice(1) === table;
      continue;
    }
    if (!inTable) continue;
    if (line === 'COMMIT') {
      inTable = false;
      continue;
    }
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ');
      if (name) chains.set(name, { policy: policy ?? '-', rules: chains.get(name)?.rules ?? [] });
      continue;
    }
    if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const space = rest.indexOf(' ');
      const chain = space === -1 ? rest : rest.slice(0, space);
      const spec = space === -1 ? '' : rest.slice(space + 1);
      let entry = chains.get(chain);
      if (!entry) {
        entry = { policy: '-', rules: [] };
        chains.set(chain, entry);
      }
      entry.rules.push(spec);
    }
  }
  return { name: table, chains };
}

/** Splits a rule spec into arguments the way iptables-restore does (double quotes group). */
export function ruleArgs(spec: string): string[] {
  const args: string[] = [];
  let current = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (c === '\\' && quoted && spec[i + 1] === '"') {
      current += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      has = true;
    } else if (c === ' ' && !quoted) {
      if (has) args.push(current);
      current = '';
      has = false;
    } else {
      current += c;
      has = true;
    }
  }
  if (has) args.push(current);
  return args;
}

/** The chain a rule jumps or goes to (`-j X` / `-g X`), if any. */
export function ruleTarget(spec: string): string | undefined {
  const args = ruleArgs(spec);
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] === '-j' || args[i] === '-g') return args[i + 1];
  }
  return undefined;
}
