/** ECMA-48 SGR and other CSI sequences, which take no columns. */
const CSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

export function visibleLength(s: string): number {
  return [...s.replace(CSI, '')].length;
}

/**
 * Wraps one line to `width` columns at spaces, continuation lines indented 4 more than the
 * line's own indent. Escape sequences count as zero columns; a word longer than the width
 * stays whole on its own line.
 */
export function wrapLine(line: string, width: number): string[] {
  if (width < 20 || visibleLength(line) <= width) return [line];
  const indent = /^ */.exec(line)![0];
  const cont = `${indent}    `;
  const words = line.slice(indent.length).split(' ');
  const out: string[] = [];
  let cur = indent;
  let curLen = indent.length;
  let first = true;
  for (const w of words) {
    const wl = visibleLength(w);
    const lead = first ? '' : ' ';
    if (!first && curLen + lead.length + wl > width) {
      out.push(cur);
      cur = cont + w;
      curLen = cont.length + wl;
    } else {
      cur += lead + w;
      curLen += lead.length + wl;
    }
    first = false;
  }
  out.push(cur);
  return out;
}
