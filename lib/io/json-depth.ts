/**
 * The nesting depth of JSON text, found with a scan (no recursion). JSON.parse itself copes with
 * deep nesting, but everything after it that walks the value recursively (JSON.stringify for a
 * message or a comparison, a replacer, our describe helpers) overflows the stack on a 100,000-deep
 * array: a file we did not write must be refused for its depth before any of that runs.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; ++i) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (++i; i < n; ++i) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) ++i;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      --depth;
    }
  }
  return max;
}

/** Deeper than any file of ours (a model config nests 1 level, trainer.json 4). */
export const MAX_JSON_DEPTH = 64;
