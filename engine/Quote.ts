// Bounded quoting for error messages: a value a message quotes is cut to a few hundred characters with
// its full length, so a 50 MB field never becomes 50 MB of terminal output, database rows or JSON.

export const count = (n: number): string => n.toLocaleString("en-US");

/** Cut a string to `max` UTF-16 units without splitting a surrogate pair. */
const cut = (s: string, max: number): string => {
  const end = max > 0 && s.charCodeAt(max - 1) >= 0xd800 && s.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return s.slice(0, end);
};

/**
 * A value as it may appear in a message: a string JSON-quoted, an object or array as JSON, anything
 * else as String(value) (so NaN stays NaN). Longer than `max` characters it is cut, with an ellipsis
 * and its full length: `"abc…" (52,428,800 characters)`.
 */
export const quote = (value: unknown, max = 200): string => {
  if (typeof value === "string") {
    return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(cut(value, max) + "…")} (${count(value.length)} characters)`;
  }
  let s: string;
  try {
    s = typeof value === "object" && value !== null ? JSON.stringify(value, (_, x) => (typeof x === "bigint" ? `${x}` : x)) : String(value);
  } catch {
    s = String(value);
  }
  return s.length <= max ? s : `${cut(s, max)}… (${count(s.length)} characters)`;
};

/** The end of the string literal that opens at `q` (index of its closing quote), or -1 if unclosed. */
const closingQuote = (text: string, q: number): number => {
  for (let from = q + 1; ; ) {
    const k = text.indexOf('"', from);
    if (k < 0) return -1;
    let backslashes = 0;
    while (k - 1 - backslashes > q && text.charCodeAt(k - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return k;
    from = k + 1;
  }
};

/**
 * Bound a message composed elsewhere (effect Schema's `Expected …, actual "<value>"`, a parser's
 * message): every double-quoted literal longer than `max` is cut as by `quote`, and the whole is
 * then cut to `total` characters with its full length.
 */
export const boundMessage = (text: string, max = 200, total = 1000): string => {
  let out = "";
  let i = 0;
  for (;;) {
    const q = text.indexOf('"', i);
    const end = q < 0 ? -1 : closingQuote(text, q);
    if (end < 0) {
      out += text.slice(i);
      break;
    }
    const literal = text.slice(q, end + 1);
    let shown = literal;
    if (literal.length > max + 2) {
      try {
        shown = quote(JSON.parse(literal), max);
      } catch {
        shown = quote(literal.slice(1, -1), max);
      }
    }
    out += text.slice(i, q) + shown;
    i = end + 1;
  }
  return out.length <= total ? out : `${cut(out, total)}… (${count(out.length)} characters in all)`;
};
