/** `bridge-trace timeline`: series and lifetimes collected from one replay, rendered as HTML, SVG or CSV (docs/timeline.md). */
export { collectTimeline, type TimelineData, type TimelineOptions } from './collect.js';
export { SERIES, OrdinalIndex, SeriesCollector, type Bucket, type SeriesData, type SeriesKey } from './series.js';
export { LifetimeCollector, type FunctionGroup, type Lifetime, type LifetimeData } from './lifetimes.js';
export { renderChartSvg, renderLifetimesSvg, formatMicros } from './svg.js';
export { renderHtml, type HtmlOptions } from './html.js';
export { renderCsv, seriesCsvHeader } from './csv.js';
