/**
 * The series as CSV, one row per bucket (docs/timeline.md "CSV columns"): the message range
 * it covers, its recorded time range, then min, max and last of every series.
 */
import type { SeriesData } from './series.js';
import { SERIES } from './series.js';

export function seriesCsvHeader(): string {
  return ['bucket', 'msg_from', 'msg_to', 't_from_us', 't_to_us', 'steps', ...SERIES.flatMap((s) => [`${s.key}_min`, `${s.key}_max`, `${s.key}_last`])].join(',');
}

export function renderCsv(series: SeriesData): string {
  const lines = [seriesCsvHeader()];
  series.buckets.forEach((b, i) => {
    const row: Array<string | number> = [i, b.from, b.to, b.tMin ?? '', b.tMax ?? '', b.steps];
    for (let k = 0; k < SERIES.length; k++) row.push(b.min[k]!, b.max[k]!, b.last[k]!);
    lines.push(row.join(','));
  });
  return lines.join('\n') + '\n';
}
