/**
 * --preset NAME / --config FILE, shared by train, eval, bench step and info: a preset by name, or a
 * JSON file holding either a whole model config or `{ "preset": NAME, ...overrides }`. Validated by
 * lib/model (ERR_INVALID_CONFIG naming the field).
 */
import { jsonDepth, MAX_JSON_DEPTH } from '../io/json-depth';
import { readRegularFile } from '../io/regular-file';

import { getPreset, validateConfig, type ModelConfig } from '../model';
import { Vit22bError } from '../runtime/errors';

export interface ResolvedModel {
  name: string;
  config: ModelConfig;
}

export function resolveModel(preset: string | undefined, configFile: string | undefined, fallback = 'tiny'): ResolvedModel {
  if (preset !== undefined && configFile !== undefined) {
    throw new Vit22bError('ERR_USAGE', 'give --preset or --config, not both', { expected: '--preset NAME | --config FILE', received: `--preset ${preset} --config ${configFile}` });
  }
  if (configFile === undefined) return { name: preset ?? fallback, config: getPreset(preset ?? fallback) };
  let raw: unknown;
  try {
    // A regular file of at most 1 MB: a FIFO or /dev/zero given as --config must not hang the command.
    const text = readRegularFile(configFile, 1 << 20, (reason, message, extra) => new Vit22bError('ERR_INVALID_CONFIG', message, { ...extra, file: configFile, reason })).toString('utf8');
    // Error messages describe values with JSON.stringify (recursive): refuse absurd nesting first.
    if (jsonDepth(text) > MAX_JSON_DEPTH) throw new Error(`nests deeper than ${MAX_JSON_DEPTH} levels`);
    raw = JSON.parse(text);
  } catch (e) {
    throw new Vit22bError('ERR_INVALID_CONFIG', `cannot read the model config ${configFile}: ${(e as Error).message}`, {
      expected: 'a readable JSON file',
      received: configFile,
      file: configFile,
    });
  }
  if (typeof raw === 'object' && raw !== null && 'preset' in raw) {
    const { preset: base, ...overrides } = raw as { preset: unknown };
    return { name: `${String(base)} (${configFile})`, config: getPreset(String(base), overrides as Partial<ModelConfig>) };
  }
  return { name: configFile, config: validateConfig(raw) };
}
