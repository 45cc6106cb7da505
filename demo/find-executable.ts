// Where programs live: PATH, then the sbin folders a non-root PATH lacks (ip, iptables).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The executable's full path, looking in PATH and then in the sbin folders a non-root PATH lacks. */
export function findExecutable(name: string): string | undefined {
  // The only environment read here: where programs live.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
