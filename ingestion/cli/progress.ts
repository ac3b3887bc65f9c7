/**
 * A progress bar on stderr: redrawn in place on a terminal, a line every 10 % otherwise (CI logs).
 */
export class Progress {
  private done = 0;
  private lastPct = -1;
  private readonly total: number;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(total: number, stream: NodeJS.WriteStream = process.stderr) {
    this.total = Math.max(total, 1);
    this.stream = stream;
    this.tty = !!stream.isTTY;
  }

  /** Advances by one and redraws. */
  tick(label: string, counts: { ok: number; duplicate: number; failed: number }): void {
    this.done++;
    const pct = Math.floor((this.done / this.total) * 100);
    const width = 30;
    const filled = Math.round((this.done / this.total) * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ok ${counts.ok} dup ${counts.duplicate} failed ${counts.failed}  ${label}`;
    if (this.tty) {
      this.stream.write(`\r\u001b[2K${line.slice(0, (this.stream.columns ?? 120) - 1)}`);
    } else if (Math.floor(pct / 10) !== Math.floor(this.lastPct / 10) || this.done === this.total) {
      this.stream.write(`${line}\n`);
    }
    this.lastPct = pct;
  }

  /** Ends the bar (newline on a terminal). */
  finish(): void {
    if (this.tty) this.stream.write('\n');
  }
}
