// Regular expressions from route matches. Istio and the Gateway API hand regexes to Envoy as RE2,
// always matched against the whole value (Envoy safe_regex is a full match). JavaScript has no RE2,
// so Ambit compiles the RE2 subset that means the same in both and refuses the rest.

export type RegexResult = { readonly re: RegExp } | { readonly error: string };

/** Constructs JS accepts but RE2 does not: backreferences and lookaround (RE2 syntax page). */
const notRe2 = /\\[1-9]|\\k<|\(\?<?[=!]/;
/** RE2 escapes JavaScript reads differently (without the `u` flag an unknown escape is a literal). */
const re2OnlyEscapes = /\\[AzCQEpP]/;

/**
 * Compiles `source` for a full match. A leading `(?i)`, the RE2 flag group most configs use,
 * becomes the `i` flag, and RE2's `(?P<name>` becomes `(?<name>`. Never throws: a pattern that
 * does not compile, or that could take exponential time here (RE2 is linear, a backtracking
 * engine is not), is an error value.
 */
export function compileFullMatchRegex(source: string): RegexResult {
  const shown = JSON.stringify(source.slice(0, 80));
  let body = source.replace(/\(\?P</g, '(?<');
  // No `u` flag: RE2 accepts identity escapes such as `\-` that unicode-mode JavaScript refuses.
  let flags = '';
  if (body.startsWith('(?i)')) {
    body = body.slice(4);
    flags += 'i';
  }
  if (notRe2.test(body)) return { error: `regex ${shown} uses backreferences or lookaround, which RE2 does not support` };
  if (re2OnlyEscapes.test(body)) return { error: `regex ${shown} uses \\A, \\z, \\C, \\Q, \\E, \\p or \\P, which Ambit does not support` };
  if (/\(\?[a-zA-Z]/.test(body)) return { error: `regex ${shown} uses inline flags; only a leading (?i) is supported` };
  if (hasNestedUnboundedQuantifier(body)) {
    return { error: `regex ${shown} repeats a group that itself has + or * (like (a+)+), which can take exponential time in Ambit's regex engine` };
  }
  try {
    return { re: new RegExp(`^(?:${body})$`, flags) };
  } catch (err) {
    return { error: `regex ${shown} does not compile: ${(err as Error).message}` };
  }
}

/** True for a group containing `+`, `*` or `{n,}` that is itself followed by one of them. */
export function hasNestedUnboundedQuantifier(body: string): boolean {
  const groups: boolean[] = [];
  let inClass = false;
  let lastClosedHadUnbounded = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') {
      i++;
      lastClosedHadUnbounded = false;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    const unbounded = c === '+' || c === '*' || (c === '{' && /^\{\d*,\}/.test(body.slice(i)));
    if (unbounded) {
      if (lastClosedHadUnbounded) return true;
      if (groups.length > 0) groups[groups.length - 1] = true;
    }
    if (c === '[') inClass = true;
    if (c === '(') groups.push(false);
    if (c === ')') {
      const had = groups.pop() ?? false;
      if (had && groups.length > 0) groups[groups.length - 1] = true;
      lastClosedHadUnbounded = had;
      continue;
    }
    if (!unbounded && c !== '?') lastClosedHadUnbounded = false;
  }
  return false;
}
