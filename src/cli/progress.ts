import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';

/**
 * How far the reading of the input files has got, for the progress line: the bytes read so
 * far against their sizes. The trace layer reads each file through its own handle, so the
 * position is taken from that handle as the OS reports it (Linux /proc/self/fdinfo); where
 * that is not available (another OS, stdin), there is no percentage, only counts.
 */
export class InputPosition {
  private readonly files: Array<{ path: string; size: number; fd?: number; finished: boolean; seen: boolean }> = [];
  readonly total: number;

  constructor(inputs: readonly string[]) {
    for (const input of inputs) {
      if (input === '-') continue;
      try {
        const st = statSync(input);
        if (st.isFile()) this.files.push({ path: realpathSync(input), size: st.size, finished: false, seen: false });
      } catch {
        // unreadable: reported where it is opened
      }
    }
    this.total = process.platform === 'linux' && this.files.length === inputs.length ? this.files.reduce((n, f) => n + f.size, 0) : 0;
  }

  /** Bytes read so far, or undefined when it cannot be known. */
  read(): number | undefined {
    if (this.total === 0) return undefined;
    let done = 0;
    for (const f of this.files) {
      if (f.finished) {
        done += f.size;
        continue;
      }
      const pos = this.position(f);
      if (pos === undefined) {
        // Opened and closed again: read to the end.
        if (f.seen) f.finished = true;
        done += f.seen ? f.size : 0;
      } else {
        f.seen = true;
        done += Math.min(pos, f.size);
      }
    }
    return done;
  }

  private position(f: { path: string; fd?: number }): number | undefined {
    try {
      if (f.fd === undefined || readlinkSync(`/proc/self/fd/${f.fd}`) !== f.path) {
        f.fd = undefined;
        for (const name of readdirSync('/proc/self/fd')) {
          try {
            if (readlinkSync(`/proc/self/fd/${name}`) === f.path) {
              f.fd = Number(name);
              break;
            }
          } catch {
            // closed meanwhile
          }
        }
      }
      if (f.fd === undefined) return undefined;
      const m = /^pos:\s*(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${f.fd}`, 'utf8'));
      return m ? Number(m[1]) : undefined;
    } catch {
      return undefined;
    }
  }
}

function mb(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(n >= 100 << 20 ? 0 : 1)} MiB` : `${Math.ceil(n / 1024)} KiB`;
}

/** `replaying… 12,345 messages, 34% (41/120 MiB)`, or without the percentage when unknown. */
export function progressText(verb: string, count: number, position: InputPosition, unit = 'messages'): string {
  const done = position.read();
  const what = `${count.toLocaleString('en-US')} ${unit}`;
  if (done === undefined || position.total === 0) return `${verb}… ${what}`;
  return `${verb}… ${what}, ${Math.min(100, Math.floor((done / position.total) * 100))}% (${mb(done)} of ${mb(position.total)} read)`;
}
