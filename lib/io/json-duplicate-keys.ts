/**
 * Finds a key repeated within one JSON object. JSON.parse keeps the last of two equal keys without
 * a word, so a safetensors header could name a tensor twice and have one silently dropped; the
 * reference implementation rejects that, and so do we.
 *
 * The text must already be valid JSON (JSON.parse accepted it), so this scanner only has to track
 * strings and nesting. It uses an explicit stack, never recursion, so deep nesting cannot overflow.
 */
export function findDuplicateKey(json: string): string | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  const n = json.length;
  for (let i = 0; i < n; ++i) {
    const c = json.charCodeAt(i);
    if (c === 0x7b /* { */) stack.push(new Set());
    else if (c === 0x5b /* [ */) stack.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x22 /* " */) {
      const start = i;
      for (++i; i < n; ++i) {
        const d = json.charCodeAt(i);
        if (d === 0x5c /* \ */) ++i;
        else if (d === 0x22) break;
      }
      const keys = stack[stack.length - 1];
      if (!keys) continue;
      let j = i + 1;
      while (j < n && (json[j] === ' ' || json[j] === '\t' || json[j] === '\n' || json[j] === '\r')) ++j;
      if (json[j] !== ':') continue; // a value, not a key
      // Compare decoded keys: "a" and "\u0061" are the same key.
      const key = JSON.parse(json.slice(start, i + 1)) as string;
      if (keys.has(key)) return key;
      keys.add(key);
    }
  }
  return undefined;
}
