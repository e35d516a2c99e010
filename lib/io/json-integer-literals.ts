/**
 * Finds a number written with a fraction or an exponent ("1.0", "2e3") in JSON text. JSON.parse
 * turns 1.0 into 1, so a shape or offset written that way would pass an integer check; the reference
 * safetensors implementation parses those fields as unsigned integers and rejects such literals, and
 * so do we (a valid header has no other numbers: metadata values are strings).
 *
 * The text must already be valid JSON; the scanner skips strings and reads number tokens.
 */
export function findNonIntegerNumber(json: string): string | undefined {
  const n = json.length;
  for (let i = 0; i < n; ++i) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (++i; i < n; ++i) {
        const d = json.charCodeAt(i);
        if (d === 0x5c /* \ */) ++i;
        else if (d === 0x22) break;
      }
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      while (i + 1 < n && /[0-9.eE+-]/.test(json[i + 1]!)) ++i;
      const token = json.slice(start, i + 1);
      if (/[.eE]/.test(token)) return token;
    }
  }
  return undefined;
}
