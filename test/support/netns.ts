// The netns tier's view of demo/netns-topology.ts (Topology, moved there for `ambit demo`) plus
// netnsSkip(), the tier's skip-or-fail rule.
import { netnsSupport } from '../../demo/netns-support.js';

export { netnsSupport, sweepStaleNamespaces, type ExecResult, type NetnsSupport } from '../../demo/netns-support.js';
export { Topology, type Leftovers, type NetnsNode, type NetnsPod, type NetnsProcess } from '../../demo/netns-topology.js';

/**
 * False when the netns tier can run; otherwise its node:test skip reason. Under CI (which runs
 * as root and installs iproute2 and iptables) a missing capability throws instead: a skipped
 * tier would look green while testing nothing.
 */
export function netnsSkip(): string | false {
  const s = netnsSupport();
  if (s.ok) return false;
  if (process.env.CI) throw new Error(`netns test cannot run under CI: ${s.reason}`);
  return s.reason;
}
