/**
 * The points where the processes of a multi-process checkpoint save agree (lib/io/checkpoint.ts):
 * the temporary directory made, every rank file written, the commit. Each point exchanges every
 * process's outcome over the mesh (Session.gatherBytes: collective, bounded by the mesh's timeout),
 * so a failure anywhere fails the save on every process, naming the rank that failed.
 */
import type { Program } from '../graph/program';
import { Vit22bError } from '../runtime/errors';
import { checkpointError } from './checkpoint-manifest';

/**
 * Test hook of the multi-process save test (test/comm/mpi-cli.test.ts): VIT22B_TEST_SAVE_FAIL="R"
 * makes mesh rank R fail to write its tensor files, as a full disk would. Unset: nothing.
 */
export function saveFaultHook(program: Program): void {
  const rank = /^(\d+)$/.exec(process.env.VIT22B_TEST_SAVE_FAIL ?? '');
  if (rank && program.session.meshRanks.includes(Number(rank[1]))) {
    throw new Vit22bError('ERR_IO', `rank ${rank[1]}: cannot write its rank file (VIT22B_TEST_SAVE_FAIL)`, { expected: 'a writable checkpoint directory', received: 'a simulated write failure' });
  }
}

/** Bytes each process contributes to an agreement point (a fixed size: the gather needs one). */
const AGREEMENT_BYTES = 16 << 10;

/**
 * The points where the processes of a multi-process save agree. step(what, body) runs body here and
 * exchanges its outcome with every process (Session.gatherBytes: collective, bounded by the mesh's
 * timeout); a failure anywhere throws on every process, naming the rank. On one process it only
 * runs body: there is nobody to tell.
 */
export class SaveAgreement {
  private readonly multi: boolean;
  constructor(
    private readonly program: Program,
    private readonly final: string,
  ) {
    this.multi = program.session.multiProcess;
  }

  step(what: string, body: () => Record<string, unknown>): Record<string, unknown>[] {
    if (!this.multi) return [body()];
    let mine: Record<string, unknown>;
    let failure: unknown;
    try {
      mine = { ok: body() };
    } catch (e) {
      failure = e;
      const err = e as { code?: string; message?: string };
      mine = { error: { code: err.code ?? 'ERR_IO', message: String(err.message ?? e).slice(0, 2000) } };
    }
    const text = new TextEncoder().encode(JSON.stringify(mine));
    if (text.byteLength > AGREEMENT_BYTES) throw checkpointError(this.final, 'agreement-too-large', `this process's report of '${what}' does not fit the exchange`, { expected: `<= ${AGREEMENT_BYTES} bytes`, received: `${text.byteLength} bytes` });
    const buf = new Uint8Array(AGREEMENT_BYTES).fill(0x20);
    buf.set(text);
    const all = this.program.session.gatherBytes(buf).map((b) => JSON.parse(new TextDecoder().decode(b)) as { ok?: Record<string, unknown>; error?: { code: string; message: string } });
    if (failure !== undefined) throw failure;
    const bad = all.findIndex((r) => r.error);
    if (bad >= 0) {
      throw checkpointError(this.final, 'peer-failed', `rank ${bad} could not ${what}: ${all[bad]!.error!.code}: ${all[bad]!.error!.message}`, { failedRank: bad, expected: `every rank to ${what}`, received: all[bad]!.error!.code });
    }
    return all.map((r) => r.ok!);
  }
}
