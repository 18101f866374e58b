/**
 * SVG renderers of the timeline: the main chart (stacked panels over the message axis,
 * finding markers) — shared by the HTML report and `--format svg` — and the ID lifetime
 * lanes (HTML report only). Plain strings, no DOM; coordinates rounded to keep them small.
 */
import type { Finding, Severity } from '../../replay/index.js';
import type { TimelineData } from './collect.js';
import type { FunctionGroup, Lifetime } from './lifetimes.js';
import { seriesIndex, type Bucket, type SeriesKey } from './series.js';

export const COLORS = {
  rust: '#d9480f',
  js: '#1c7ed6',
  reserved: '#7048e8',
  filled: '#2b8a3e',
  scopes: '#868e96',
  depth: '#0c8599',
  error: '#e03131',
  warning: '#f08c00',
  info: '#868e96',
  grid: '#e9ecef',
  axis: '#495057',
  text: '#212529',
  muted: '#6c757d',
} as const;

const W = 1200;
const ML = 64;
const MR = 230;
const PANEL_H = 110;
const PANEL_GAP = 46;
const TOP = 34;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

interface PanelSpec {
  title: string;
  lines: Array<{ key: SeriesKey; label: string; color: string; dash?: string }>;
}

const PANELS: PanelSpec[] = [
  {
    title: 'Live heap objects',
    lines: [
      { key: 'rust_live', label: 'Rust live IDs', color: COLORS.rust },
      { key: 'js_live', label: 'JS live objects', color: COLORS.js },
    ],
  },
  {
    title: 'Reservation scopes (JS)',
    lines: [
      { key: 'scope_reserved', label: 'IDs reserved', color: COLORS.reserved },
      { key: 'scope_filled', label: 'reserved IDs filled', color: COLORS.filled },
      { key: 'scopes_open', label: 'scopes open', color: COLORS.scopes, dash: '4 3' },
    ],
  },
  {
    title: 'Borrow stack depth',
    lines: [
      { key: 'rust_borrow', label: 'Rust borrow slots', color: COLORS.rust },
      { key: 'js_borrow', label: 'JS borrow slots', color: COLORS.js },
    ],
  },
  {
    title: 'Conversation nesting depth',
    lines: [{ key: 'depth', label: 'open exchanges', color: COLORS.depth }],
  },
];

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

const r1 = (n: number): string => String(Math.round(n * 10) / 10);

/** µs as `850 µs`, `12.4 ms`, `3.21 s`. */
export function formatMicros(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(us < 10_000_000 ? 2 : 1)} s`;
}

export interface XScale {
  (ordinal: number): number;
  messages: number;
}

export function xScale(messages: number): XScale {
  const n = Math.max(1, messages);
  const f = ((o: number) => ML + ((o - 0.5) / n) * (W - ML - MR)) as XScale;
  f.messages = n;
  return f;
}

function niceMax(v: number): number {
  if (v <= 4) return Math.max(1, Math.ceil(v));
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const p = 10 ** Math.floor(Math.log10(Math.max(1, raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return Math.max(1, m * p);
  return 10 * p;
}

function worst(a: Severity, b: Severity): Severity {
  const rank = { info: 0, warning: 1, error: 2 };
  return rank[a] >= rank[b] ? a : b;
}

/** The step line through each bucket's last value, and (downsampled) the min–max band. */
function seriesPaths(buckets: Bucket[], k: number, sx: XScale, sy: (v: number) => number, band: boolean): { line: string; band?: string } {
  let line = '';
  let prevY: number | undefined;
  for (const b of buckets) {
    const x1 = sx(b.to + 0.5);
    const y = sy(b.last[k]!);
    if (prevY === undefined) line += `M${r1(sx(b.from - 0.5))} ${r1(y)}`;
    else if (y !== prevY) line += `V${r1(y)}`;
    line += `H${r1(x1)}`;
    prevY = y;
  }
  if (!band) return { line };
  let top = '';
  let bottom = '';
  for (const b of buckets) top += `${top ? 'L' : 'M'}${r1(sx(b.from - 0.5))} ${r1(sy(b.max[k]!))}H${r1(sx(b.to + 0.5))}`;
  for (let i = buckets.length - 1; i >= 0; i--) {
    const b = buckets[i]!;
    bottom += `L${r1(sx(b.to + 0.5))} ${r1(sy(b.min[k]!))}H${r1(sx(b.from - 0.5))}`;
  }
  return { line, band: `${top}${bottom}Z` };
}

export interface ChartOptions {
  /** A file of its own: XML prolog-free `<svg xmlns=…>`, no links into the page. */
  standalone?: boolean;
  /** Most finding markers drawn (grouped by pixel column first). Default 400. */
  maxMarkers?: number;
}

export function chartHeight(): number {
  return TOP + (PANELS.length - 1) * (PANEL_H + PANEL_GAP) + 16 + PANEL_H + 38;
}

/** The main chart: four panels sharing the message axis, findings as markers across them. */
export function renderChartSvg(data: TimelineData, options: ChartOptions = {}): string {
  const { series } = data;
  const sx = xScale(series.messages);
  const H = chartHeight();
  const downsampled = series.width > 1;
  const out: string[] = [];
  out.push(
    `<svg ${options.standalone ? 'xmlns="http://www.w3.org/2000/svg" ' : ''}id="timeline-chart" class="bt-chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" ${FONT} font-size="12" role="img" aria-label="Timeline of live heap objects, reservation scopes, borrow stack depth and nesting depth">`,
  );
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  const x0 = sx(0.5);
  const x1 = sx(series.messages + 0.5);
  // x ticks
  const step = niceStep(series.messages, 8);
  const ticks: number[] = [];
  for (let o = step; o <= series.messages; o += step) ticks.push(o);
  if (series.messages <= 12) {
    ticks.length = 0;
    for (let o = 1; o <= series.messages; o++) ticks.push(o);
  }
  // The x axis line of the last panel.
  const bottom = TOP + (PANELS.length - 1) * (PANEL_H + PANEL_GAP) + 16 + PANEL_H;
  // Finding markers first, so panel titles (with a white halo) and series stay readable over them.
  out.push(renderMarkers(data, sx, TOP, bottom, options));
  PANELS.forEach((p, pi) => {
    const top = TOP + pi * (PANEL_H + PANEL_GAP) + 16;
    const keys = p.lines.map((l) => seriesIndex(l.key));
    let max = 0;
    for (const b of series.buckets) for (const k of keys) max = Math.max(max, b.max[k]!);
    const ymax = niceMax(max);
    const sy = (v: number): number => top + PANEL_H - (v / ymax) * PANEL_H;
    out.push(`<g class="panel" data-panel="${pi}">`);
    out.push(`<text x="${ML}" y="${top - 6}" font-weight="600" font-size="13" fill="${COLORS.text}" stroke="#ffffff" stroke-width="4" paint-order="stroke">${esc(p.title)}</text>`);
    for (const v of [0, ymax / 2, ymax]) {
      if (v !== Math.round(v) && v !== 0) continue;
      const y = r1(sy(v));
      out.push(`<line x1="${r1(x0)}" x2="${r1(x1)}" y1="${y}" y2="${y}" stroke="${COLORS.grid}"/>`);
      out.push(`<text x="${ML - 6}" y="${y}" dy="4" text-anchor="end" fill="${COLORS.muted}">${v}</text>`);
    }
    for (const o of ticks) out.push(`<line x1="${r1(sx(o))}" x2="${r1(sx(o))}" y1="${top}" y2="${top + PANEL_H}" stroke="${COLORS.grid}"/>`);
    p.lines.forEach((l, li) => {
      const k = keys[li]!;
      const paths = seriesPaths(series.buckets, k, sx, sy, downsampled);
      if (paths.band) out.push(`<path d="${paths.band}" fill="${l.color}" fill-opacity="0.15" stroke="none"/>`);
      out.push(`<path class="series" data-series="${l.key}" d="${paths.line}" fill="none" stroke="${l.color}" stroke-width="${downsampled ? 1.2 : 1.8}"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''} stroke-linejoin="round"/>`);
      // legend to the right of the panel
      const ly = top + 10 + li * 18;
      const lx = x1 + 18;
      out.push(`<line x1="${r1(lx)}" x2="${r1(lx + 20)}" y1="${ly}" y2="${ly}" stroke="${l.color}" stroke-width="2.5"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''}/>`);
      out.push(`<text x="${r1(lx + 26)}" y="${ly}" dy="4" fill="${COLORS.text}">${esc(l.label)}</text>`);
    });
    out.push(`<line x1="${r1(x0)}" x2="${r1(x1)}" y1="${top + PANEL_H}" y2="${top + PANEL_H}" stroke="${COLORS.axis}"/>`);
    out.push(`</g>`);
  });
  // x axis labels
  const bucketAt = (o: number): Bucket | undefined => series.buckets[Math.min(series.buckets.length - 1, Math.floor((o - 1) / series.width))];
  out.push(`<g class="x-axis" fill="${COLORS.muted}" text-anchor="middle">`);
  for (const o of ticks) {
    out.push(`<text x="${r1(sx(o))}" y="${bottom + 15}">${o.toLocaleString('en-US')}</text>`);
    const b = bucketAt(o);
    if (series.hasTime && b?.tMin !== undefined) out.push(`<text x="${r1(sx(o))}" y="${bottom + 29}" font-size="10">${esc(formatMicros(b.tMin))}</text>`);
  }
  out.push(`</g>`);
  // Axis captions left of the tick labels, where nothing else is drawn.
  out.push(
    `<text x="${ML - 8}" y="${bottom + 15}" text-anchor="end" fill="${COLORS.muted}">msg #</text>` +
      (series.hasTime ? `<text x="${ML - 8}" y="${bottom + 29}" text-anchor="end" fill="${COLORS.muted}" font-size="10">t</text>` : ''),
  );
  if (downsampled) {
    // Under the single legend entry of the last panel.
    const ny = TOP + (PANELS.length - 1) * (PANEL_H + PANEL_GAP) + 16 + 48;
    out.push(`<text x="${r1(x1 + 18)}" y="${ny}" fill="${COLORS.muted}" font-size="11">downsampled: ${series.width.toLocaleString('en-US')} msgs per point;</text>`);
    out.push(`<text x="${r1(x1 + 18)}" y="${ny + 15}" fill="${COLORS.muted}" font-size="11">line = last value, band = min–max</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

function renderMarkers(data: TimelineData, sx: XScale, top: number, bottom: number, options: ChartOptions): string {
  const cols = new Map<number, { x: number; findings: number[]; severity: Severity }>();
  data.result.findings.forEach((f: Finding, i) => {
    const o = data.findingX[i];
    if (o === undefined) return;
    const x = Math.round(sx(o));
    const c = cols.get(x);
    if (c) {
      c.findings.push(i);
      c.severity = worst(c.severity, f.severity);
    } else cols.set(x, { x, findings: [i], severity: f.severity });
  });
  const sorted = [...cols.values()].sort((a, b) => {
    const rank = { info: 0, warning: 1, error: 2 };
    return rank[b.severity] - rank[a.severity] || a.findings[0]! - b.findings[0]!;
  });
  const shown = sorted.slice(0, options.maxMarkers ?? 400).sort((a, b) => a.x - b.x);
  const out: string[] = [`<g class="finding-markers">`];
  for (const c of shown) {
    const first = c.findings[0]!;
    const f = data.result.findings[first]!;
    const color = COLORS[c.severity];
    const label = c.findings.length > 1 ? `${c.findings.length} findings here; first: ${f.kind}: ${f.message}` : `${f.kind}: ${f.message}`;
    const open = options.standalone ? `<g class="finding-marker" data-finding="${first}">` : `<a class="finding-marker" href="#finding-${first}" data-finding="${first}" data-tip="${esc(label)}">`;
    const close = options.standalone ? '</g>' : '</a>';
    out.push(
      `${open}${options.standalone ? `<title>${esc(label)}</title>` : ''}` +
        `<line x1="${c.x}" x2="${c.x}" y1="${top + 8}" y2="${bottom}" stroke="${color}" stroke-width="1.2" stroke-dasharray="3 2" opacity="0.8"/>` +
        `<path d="M${c.x - 7} ${top - 8}h14l-7 12z" fill="${color}"/>` +
        (c.findings.length > 1 ? `<text x="${c.x}" y="${top - 11}" text-anchor="middle" font-size="10" fill="${color}">${c.findings.length}</text>` : '') +
        close,
    );
  }
  if (shown.length < sorted.length) out.push(`<text x="${ML}" y="${top - 18}" font-size="11" fill="${COLORS.muted}">${sorted.length - shown.length} more marker columns not drawn</text>`);
  out.push('</g>');
  return out.join('\n');
}

// ---- lifetimes ----------------------------------------------------------------------------

const LANE_H = 11;
const BAR_H = 8;
const GROUP_HEAD = 22;

export interface LifetimeOptions {
  /** Function groups drawn (largest first). Default 16. */
  maxGroups?: number;
  /** Packed rows per side and group. Default 6. */
  maxRows?: number;
}

/** `side:id` of every ID a finding names, with the first finding naming it. */
export function findingIds(findings: readonly Finding[]): Map<string, number> {
  const m = new Map<string, number>();
  findings.forEach((f, i) => {
    const add = (side: string, id: number | undefined): void => {
      if (id === undefined) return;
      const k = `${side}:${id}`;
      if (!m.has(k)) m.set(k, i);
    };
    add('rust', f.rustId);
    add('js', f.jsId);
    for (const p of f.provenance ?? []) add(p.side, p.id);
  });
  return m;
}

function pack(lanes: Lifetime[], maxRows: number): { rows: Lifetime[][]; hidden: number } {
  const rows: Lifetime[][] = [];
  const ends: number[] = [];
  let hidden = 0;
  for (const lt of lanes) {
    let r = ends.findIndex((e) => e < lt.start);
    if (r < 0) {
      if (rows.length >= maxRows) {
        hidden++;
        continue;
      }
      rows.push([]);
      ends.push(0);
      r = rows.length - 1;
    }
    rows[r]!.push(lt);
    ends[r] = lt.end;
  }
  return { rows, hidden };
}

function where(l: { input: string; line?: number; offset?: number; message?: number }): string {
  const at = l.line !== undefined ? `${l.input}:${l.line}` : l.offset !== undefined ? `${l.input}@${l.offset}` : l.input;
  return `msg ${l.message ?? '?'} (${at})`;
}

export function lifetimeTip(lt: Lifetime): string {
  const end = lt.endKind === 'alive' ? 'still alive at the end of the trace' : lt.endKind === 'replaced' ? `ID taken again (timeline #${lt.end}) without a free` : `freed in ${lt.freedAt ? where(lt.freedAt) : `timeline #${lt.end}`}`;
  return `${lt.side === 'rust' ? 'Rust' : 'JS'} #${lt.id}${lt.ctx !== undefined ? ` (ctx ${lt.ctx})` : ''}: ${lt.createdBy}${lt.reused ? ' (ID reused from the free list)' : ''}; created in ${where(lt.createdAt)}; ${end}`;
}

export function renderLifetimesSvg(data: TimelineData, options: LifetimeOptions = {}): { svg: string; hiddenGroups: number; hiddenLanes: number } {
  const maxGroups = options.maxGroups ?? 16;
  const maxRows = options.maxRows ?? 6;
  const sx = xScale(data.series.messages);
  const related = findingIds(data.result.findings);
  const groups = data.lifetimes.groups.slice(0, maxGroups);
  const body: string[] = [];
  let y = 8;
  let hiddenLanes = 0;
  const x0 = sx(0.5);
  const x1 = sx(data.series.messages + 0.5);
  for (const g of groups) {
    body.push(groupHeader(g, y, x0));
    y += GROUP_HEAD;
    for (const side of ['rust', 'js'] as const) {
      const lanes = g.lanes[side];
      const total = g.created[side];
      if (total === 0) continue;
      const { rows, hidden } = pack(lanes, maxRows);
      const notKept = total - lanes.length;
      hiddenLanes += hidden + notKept;
      body.push(`<text x="${ML - 6}" y="${y + BAR_H}" text-anchor="end" font-size="10" fill="${COLORS[side]}">${side === 'rust' ? 'Rust' : 'JS'}</text>`);
      rows.forEach((row, ri) => {
        const ry = y + ri * LANE_H;
        for (const lt of row) {
          const bx = sx(lt.start - 0.5);
          const bw = Math.max(2, sx(lt.end + 0.5) - bx);
          const rel = related.get(`${lt.side}:${lt.id}`);
          const tip = esc(lifetimeTip(lt));
          const alive = lt.endKind === 'alive';
          // Alive at the end: pale fill with a solid outline; named by a finding: red outline.
          const stroke = rel !== undefined ? ` stroke="${COLORS.error}" stroke-width="1.6"` : alive ? ` stroke="${COLORS[side]}" stroke-width="1"` : '';
          const rect = `<rect class="lifetime" x="${r1(bx)}" y="${ry}" width="${r1(bw)}" height="${BAR_H}" rx="1.5" fill="${COLORS[side]}" fill-opacity="${alive ? 0.3 : 0.85}"${stroke} data-tip="${tip}"/>`;
          body.push(rel !== undefined ? `<a href="#finding-${rel}">${rect}</a>` : rect);
        }
      });
      const more = hidden + notKept;
      if (more > 0) body.push(`<text x="${r1(x1 + 8)}" y="${y + BAR_H}" font-size="10" fill="${COLORS.muted}">+${more.toLocaleString('en-US')} not drawn</text>`);
      y += Math.max(1, rows.length) * LANE_H + 4;
    }
    y += 6;
  }
  const hiddenGroups = Math.max(0, data.lifetimes.groups.length - groups.length);
  if (groups.length === 0) {
    body.push(`<text x="${ML}" y="${y + 12}" fill="${COLORS.muted}">No heap IDs were created in this trace.</text>`);
    y += 20;
  }
  // legend
  const ly = y + 8;
  body.push(
    `<g class="legend" font-size="11" fill="${COLORS.text}">` +
      `<rect x="${ML}" y="${ly}" width="18" height="${BAR_H}" fill="${COLORS.rust}" fill-opacity="0.85"/><text x="${ML + 24}" y="${ly + 7}">Rust ID</text>` +
      `<rect x="${ML + 90}" y="${ly}" width="18" height="${BAR_H}" fill="${COLORS.js}" fill-opacity="0.85"/><text x="${ML + 114}" y="${ly + 7}">JS ID</text>` +
      `<rect x="${ML + 170}" y="${ly}" width="18" height="${BAR_H}" fill="${COLORS.js}" fill-opacity="0.3" stroke="${COLORS.js}" stroke-width="1"/><text x="${ML + 194}" y="${ly + 7}">alive at the end</text>` +
      `<rect x="${ML + 310}" y="${ly}" width="18" height="${BAR_H}" fill="${COLORS.rust}" fill-opacity="0.85" stroke="${COLORS.error}" stroke-width="1.6"/><text x="${ML + 334}" y="${ly + 7}">named by a finding (click for it)</text>` +
      `</g>`,
  );
  y = ly + 20;
  const svg = `<svg id="lifetimes-chart" class="bt-lifetimes" viewBox="0 0 ${W} ${y}" width="${W}" height="${y}" ${FONT} font-size="12">\n<rect x="0" y="0" width="${W}" height="${y}" fill="#ffffff"/>\n${body.join('\n')}\n</svg>`;
  return { svg, hiddenGroups, hiddenLanes };
}

function groupHeader(g: FunctionGroup, y: number, x0: number): string {
  const c = g.created;
  const parts = [`created ${c.rust} Rust / ${c.js} JS`, `freed ${g.freed.rust} / ${g.freed.js}`];
  if (g.alive.rust + g.alive.js > 0) parts.push(`alive at end ${g.alive.rust} / ${g.alive.js}`);
  parts.push(`longest ${g.longest.toLocaleString('en-US')} msgs`);
  return (
    `<g class="lifetime-group" data-fn="${esc(g.fn)}"><text x="${r1(x0)}" y="${y + 13}" font-weight="600" fill="${COLORS.text}">${esc(g.fn)}</text>` +
    `<text x="${r1(x0 + 8 + Math.min(260, g.fn.length * 7.5))}" y="${y + 13}" font-size="11" fill="${COLORS.muted}">${esc(parts.join(' · '))}</text></g>`
  );
}
