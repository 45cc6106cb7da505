// Regular expressions from route matches. Istio and the Gateway API hand regexes to Envoy as RE2,
// always matched against the whole value (Envoy safe_regex is a full match). JavaScript has no RE2,
// so Ambit compiles the RE2 subset that means the same in both and refuses the rest.

export type RegexResult = { readonly re: RegExp } | { readonly error: string };

/** Constructs JS accepts but RE2 does not: backreferences and lookaround (RE2 syntax page). */
const notRe2 = /\\[1-9]|\\k<|\(\?<?[=!]/;

/**
 * Compiles `source` for a full match. A leading `(?i)`, the RE2 flag group most configs use,
 * becomes the `i` flag. Never throws: a pattern that does not compile is an error value.
 */
export function compileFullMatchRegex(source: string): RegexResult {
  let body = source;
  // No `u` flag: RE2 accepts identity escapes such as `\-` that unicode-mode JavaScript refuses.
  let flags = '';
  if (body.startsWith('(?i)')) {
    body = body.slice(4);
    flags += 'i';
  }
  if (notRe2.test(body)) return { error: `regex ${JSON.stringify(source.slice(0, 80))} uses backreferences or lookaround, which RE2 does not support` };
  if (/\(\?[a-zA-Z]/.test(body)) return { error: `regex ${JSON.stringify(source.slice(0, 80))} uses inline flags; only a leading (?i) is supported` };
  try {
    return { re: new RegExp(`^(?:${body})$`, flags) };
  } catch (err) {
    return { error: `regex ${JSON.stringify(source.slice(0, 80))} does not compile: ${(err as Error).message}` };
  }
}
