/**
 * The self-contained HTML report: one file, inline CSS, inline SVG, a few lines of inline
 * JS (hover detail only; the page reads fine without it). No external resources.
 */
import type { Finding, SessionSummary } from '../../replay/index.js';
import { formatFindingLocation } from '../location.js';
import type { TimelineData } from './collect.js';
import { COLORS, esc, formatMicros, renderChartSvg, renderLifetimesSvg } from './svg.js';

export interface HtmlOptions {
  /** Findings listed in full (the rest are counted). Default 500. */
  maxFindings?: number;
  /** Shown in the footer. */
  version?: string;
  /** Title; default the input names. */
  title?: string;
  /**
   * When the trace holds several sessions and the report charts one: which, why, and the
   * other sessions with the command that charts each (the page's session picker).
   */
  sessionChoice?: { charted: string; why: string; others: ReadonlyArray<{ ctx: string; messages: number; findings: number; command: string }>; more: number };
}

const CSS = `
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f8f9fa;color:${COLORS.text};font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif}
main{max-width:1260px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 2px}
h2{font-size:17px;margin:28px 0 8px}
.sub{color:${COLORS.muted};margin:0 0 14px;word-break:break-all}
.verdict{font-weight:600;font-size:15px;margin:6px 0 14px}
.verdict.bad{color:${COLORS.error}}.verdict.warn{color:${COLORS.warning}}.verdict.ok{color:${COLORS.filled}}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:8px 12px}
.card b{display:block;font-size:18px}
.card span{color:${COLORS.muted};font-size:12px}
.panel{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:10px;overflow-x:auto}
.panel svg{display:block;max-width:100%;height:auto}
.note{color:${COLORS.muted};font-size:13px;margin:6px 0}
.sessions{font-size:13px;border-collapse:collapse;background:#fff;width:100%}
.sessions td,.sessions th{border:1px solid #dee2e6;padding:4px 8px;text-align:left}
ol.findings{list-style:none;padding:0;margin:0}
ol.findings>li{background:#fff;border:1px solid #dee2e6;border-left:4px solid ${COLORS.info};border-radius:4px;padding:8px 12px;margin:0 0 8px;scroll-margin-top:12px}
ol.findings>li.error{border-left-color:${COLORS.error}}ol.findings>li.warning{border-left-color:${COLORS.warning}}
ol.findings>li:target{outline:3px solid #ffd43b;background:#fff9db}
.sev{font-weight:700;text-transform:uppercase;font-size:11px;margin-right:6px}
.sev.error{color:${COLORS.error}}.sev.warning{color:${COLORS.warning}}.sev.info{color:${COLORS.info}}
.kind{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
.loc{color:${COLORS.muted};font-size:12px;font-family:ui-monospace,Menlo,Consolas,monospace}
.prov{margin:4px 0 0 0;padding-left:18px;font-size:12px;color:#495057}
.cons{color:${COLORS.muted};font-size:12px}
a.finding-marker{cursor:pointer}
#tip{position:fixed;pointer-events:none;background:#212529;color:#fff;font-size:12px;padding:6px 8px;border-radius:4px;max-width:520px;display:none;z-index:10}
footer{margin-top:30px;color:${COLORS.muted};font-size:12px}
`;

const JS = `
(function(){var t=document.getElementById('tip');
document.addEventListener('mouseover',function(e){var n=e.target.closest&&e.target.closest('[data-tip]');if(!n){t.style.display='none';return}t.textContent=n.getAttribute('data-tip');t.style.display='block'});
document.addEventListener('mousemove',function(e){if(t.style.display!=='block')return;var x=e.clientX+14,y=e.clientY+14;if(x+t.offsetWidth>innerWidth-8)x=e.clientX-t.offsetWidth-14;if(y+t.offsetHeight>innerHeight-8)y=e.clientY-t.offsetHeight-14;t.style.left=x+'px';t.style.top=y+'px'});
})();
`;

function n(v: number): string {
  return v.toLocaleString('en-US');
}

function card(value: string, label: string): string {
  return `<div class="card"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
}

function sessionRow(s: SessionSummary): string {
  return `<tr><td>${esc(s.ctx ?? '—')}</td><td>${esc(s.revision)} <span class="loc">(${esc(s.revisionSource)})</span></td><td>${esc(s.sides.join(' + '))}</td><td>${n(s.messages)}</td><td>${n(s.heapIdsCreated.rust)} / ${n(s.heapIdsCreated.js)}</td><td>${n(s.heapIdsFreed.rust)} / ${n(s.heapIdsFreed.js)}</td><td>${n(s.liveAtEnd.rust)} / ${n(s.liveAtEnd.js)}</td><td>${s.maxDepth}</td></tr>`;
}

function findingItem(f: Finding, i: number, x: number | undefined): string {
  const prov = (f.provenance ?? [])
    .map((p) => `<li>${esc(p.side === 'rust' ? 'Rust' : 'JS')} #${p.id}: ${esc(p.createdBy)} — created at ${esc(formatFindingLocation(p.createdAt))}${p.freedAt ? `, freed at ${esc(formatFindingLocation(p.freedAt))}` : ''}</li>`)
    .join('');
  const ids = [f.rustId !== undefined ? `Rust #${f.rustId}` : '', f.jsId !== undefined ? `JS #${f.jsId}` : ''].filter(Boolean).join(' vs ');
  return (
    `<li id="finding-${i}" class="${f.severity}"><span class="sev ${f.severity}">${f.severity}</span><span class="kind">${esc(f.kind)}</span>` +
    `${f.certainty ? ` <span class="cons">(${f.certainty})</span>` : ''}${ids ? ` <span class="cons">${esc(ids)}</span>` : ''}` +
    `<div>${esc(f.message)}</div>` +
    `<div class="loc">${esc(formatFindingLocation(f.location))}${f.location.message !== undefined ? ` · msg ${f.location.message}` : ''}${x !== undefined ? ` · timeline #${n(x)}` : ''}</div>` +
    (f.causedBy !== undefined ? `<div class="cons">probably a consequence of <a href="#finding-${f.causedBy}">finding ${f.causedBy + 1}</a></div>` : '') +
    (f.consequences ? `<div class="cons">${n(f.consequences)} later findings follow from this one</div>` : '') +
    (prov ? `<ul class="prov">${prov}</ul>` : '') +
    `</li>`
  );
}

function sessionPicker(c: NonNullable<HtmlOptions['sessionChoice']>): string {
  const rows = c.others.map((o) => `<tr><td>${esc(o.ctx)}</td><td>${n(o.messages)}</td><td>${n(o.findings)}</td><td><code>${esc(o.command)}</code></td></tr>`).join('');
  return (
    `<h2>Session charted</h2><p class="note">This trace holds several sessions; one chart would overlay them, so this report charts <b>ctx=${esc(c.charted)}</b> (${esc(c.why)}). Chart another with the command beside it.</p>` +
    (rows ? `<table class="sessions"><tr><th>other session</th><th>messages</th><th>findings</th><th>chart it with</th></tr>${rows}</table>` : '') +
    (c.more ? `<p class="note">${n(c.more)} more sessions (bridge-trace analyze lists them all).</p>` : '')
  );
}

export function renderHtml(data: TimelineData, options: HtmlOptions = {}): string {
  const { result, series } = data;
  const s = result.summary;
  const title = options.title ?? data.inputs.join(', ');
  const verdict =
    s.findings === 0
      ? `<p class="verdict ok">No findings: ${n(s.messages)} messages replayed, both allocators agree.</p>`
      : `<p class="verdict ${s.bySeverity.error ? 'bad' : 'warn'}">${n(s.roots)} root cause${s.roots === 1 ? '' : 's'}, ${n(s.consequences)} consequence${s.consequences === 1 ? '' : 's'} (${n(s.bySeverity.error)} errors, ${n(s.bySeverity.warning)} warnings, ${n(s.bySeverity.info)} info)</p>`;
  const created = result.sessions.reduce((a, x) => ({ rust: a.rust + x.heapIdsCreated.rust, js: a.js + x.heapIdsCreated.js }), { rust: 0, js: 0 });
  const alive = result.sessions.reduce((a, x) => ({ rust: a.rust + x.liveAtEnd.rust, js: a.js + x.liveAtEnd.js }), { rust: 0, js: 0 });
  const maxDepth = result.sessions.reduce((m, x) => Math.max(m, x.maxDepth), 0);
  const revisions = [...new Set(result.sessions.map((x) => x.revision))].join(', ') || '—';
  const tMin = series.buckets.reduce<number | undefined>((m, b) => (b.tMin === undefined ? m : m === undefined ? b.tMin : Math.min(m, b.tMin)), undefined);
  const tMax = series.buckets.reduce<number | undefined>((m, b) => (b.tMax === undefined ? m : m === undefined ? b.tMax : Math.max(m, b.tMax)), undefined);
  const cards = [
    card(n(s.messages), 'messages'),
    card(n(s.records), 'records'),
    card(n(s.sessions), s.sessions === 1 ? 'session' : 'sessions'),
    card(revisions, 'protocol revision'),
    card(`${n(created.rust)} / ${n(created.js)}`, 'heap IDs created (Rust / JS)'),
    card(`${n(alive.rust)} / ${n(alive.js)}`, 'alive at the end (Rust / JS)'),
    card(String(maxDepth), 'max nesting depth'),
    card(`${n(s.bySeverity.error)} / ${n(s.bySeverity.warning)} / ${n(s.bySeverity.info)}`, 'findings (error / warning / info)'),
  ];
  if (tMin !== undefined && tMax !== undefined) cards.push(card(formatMicros(tMax - tMin), 'recorded time span'));
  const sampling =
    series.width > 1
      ? `<strong>Downsampled:</strong> ${n(series.messages)} messages in ${n(series.buckets.length)} points of ${n(series.width)} messages each. Each line is the value after the last message of its point; the shaded band is the minimum–maximum within it, so no spike is lost.`
      : `Not downsampled: one point per message (${n(series.messages)} messages; traces over ${n(series.maxBuckets)} messages are downsampled).`;
  const lifetimes = renderLifetimesSvg(data);
  const lt = data.lifetimes;
  const ltNote =
    `${n(lt.total)} heap IDs over ${n(lt.groups.length)} creating function${lt.groups.length === 1 ? '' : 's'}. ` +
    `Per function and side at most ${lt.keep} lifetimes are kept — those still alive at the end first, then the longest — and packed into rows; ` +
    `the rest are counted (“not drawn”).` +
    (lifetimes.hiddenGroups ? ` ${n(lifetimes.hiddenGroups)} smaller function group${lifetimes.hiddenGroups === 1 ? '' : 's'} not drawn.` : '') +
    ' Hover a bar for its provenance.';
  const maxF = options.maxFindings ?? 500;
  const listed = result.findings.slice(0, maxF);
  const findings = listed.length
    ? `<ol class="findings" id="findings">${listed.map((f, i) => findingItem(f, i, data.findingX[i])).join('\n')}</ol>` + (result.findings.length > maxF ? `<p class="note">${n(result.findings.length - maxF)} more findings not listed (run <code>bridge-trace analyze</code> for all of them).</p>` : '')
    : `<ol class="findings" id="findings"></ol><p class="note">No findings.</p>`;
  const notes = result.sessions.flatMap((x) => x.notes);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>bridge-trace timeline — ${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>bridge-trace timeline</h1>
<p class="sub">${esc(title)}</p>
${verdict}
<div class="cards">${cards.join('')}</div>
${result.sessions.length > 1 ? `<h2>Sessions</h2><table class="sessions"><tr><th>ctx</th><th>revision</th><th>recorded by</th><th>messages</th><th>created R / J</th><th>freed R / J</th><th>alive R / J</th><th>max depth</th></tr>${result.sessions.slice(0, 50).map(sessionRow).join('')}</table>${result.sessions.length > 50 ? `<p class="note">${n(result.sessions.length - 50)} more sessions.</p>` : ''}` : ''}
${notes.length ? `<p class="note">${notes.slice(0, 10).map(esc).join('<br>')}</p>` : ''}
${options.sessionChoice ? sessionPicker(options.sessionChoice) : ''}
</header>
<section id="over-time">
<h2>Over time</h2>
<p class="note">${sampling} The x axis is the message number in trace order${series.hasTime ? ', with the recorded time (<code>t=</code>) under it' : ''}. Triangles mark findings; click one for its detail.</p>
<div class="panel">${renderChartSvg(data)}</div>
</section>
<section id="lifetimes">
<h2>Heap ID lifetimes by creating function</h2>
<p class="note">${ltNote}</p>
<div class="panel">${lifetimes.svg}</div>
</section>
<section id="findings-list">
<h2>Findings (${n(result.findings.length)})</h2>
${findings}
</section>
<footer>Generated by bridge-trace${options.version ? ` ${esc(options.version)}` : ''} · self-contained: no network access needed.</footer>
</main>
<div id="tip" role="tooltip"></div>
<script>${JS}</script>
</body>
</html>
`;
}
