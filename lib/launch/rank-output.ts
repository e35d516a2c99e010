/**
 * A rank's output, line by line with its rank in front ("[rank 3] ..."), so the interleaved logs of
 * many processes stay readable. Lines are cut at the newline byte, which never occurs inside a UTF-8
 * sequence, so a character split across two reads is never mangled.
 */
export class LinePrefixer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void,
  ) {}

  push(chunk: Buffer): void {
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let start = 0;
    let nl: number;
    let out = '';
    while ((nl = data.indexOf(0x0a, start)) >= 0) {
      out += this.prefix + data.toString('utf8', start, nl + 1);
      start = nl + 1;
    }
    this.pending = data.subarray(start);
    // One write per read: a line of ours is never split by another rank's.
    if (out) this.write(out);
  }

  /** The last line of a stream that did not end with a newline, given one. */
  end(): void {
    if (this.pending.length) this.write(this.prefix + this.pending.toString('utf8') + '\n');
    this.pending = Buffer.alloc(0);
  }
}

export function rankPrefix(rank: number): string {
  return `[rank ${rank}] `;
}
