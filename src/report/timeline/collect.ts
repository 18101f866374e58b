/**
 * Runs the analyzer once with both hooks and keeps what the timeline draws: the
 * downsampled series, the ID lifetimes, and where each finding sits on the x axis.
 */
import { analyze, type AnalysisResult, type AnalyzeOptions, type AnalyzeSource } from '../../replay/index.js';
import { LifetimeCollector, type LifetimeData } from './lifetimes.js';
import { OrdinalIndex, SeriesCollector, type SeriesData } from './series.js';

export interface TimelineOptions {
  /** Most buckets of the series (even). Default 600. */
  buckets?: number;
  /** Lifetimes kept per creating function and side. Default 40. */
  lanes?: number;
  /** Called every 1024 steps (progress). */
  onProgress?: (steps: number) => void;
}

export interface TimelineData {
  inputs: string[];
  result: AnalysisResult;
  series: SeriesData;
  lifetimes: LifetimeData;
  /** Message ordinal of each finding (same order as `result.findings`), when it names a message. */
  findingX: Array<number | undefined>;
}

export async function collectTimeline(
  source: AnalyzeSource,
  inputs: string[],
  analyzeOptions: Omit<AnalyzeOptions, 'onStep' | 'onIdEvent'> = {},
  options: TimelineOptions = {},
): Promise<TimelineData> {
  const ordinals = new OrdinalIndex();
  const series = new SeriesCollector(ordinals, options.buckets ?? 600);
  const lifetimes = new LifetimeCollector(ordinals, options.lanes ?? 40);
  let steps = 0;
  const progress = options.onProgress;
  const result = await analyze(source, {
    ...analyzeOptions,
    onStep: (s) => {
      series.step(s);
      if (progress && (++steps & 1023) === 0) progress(steps);
    },
    onIdEvent: (e) => lifetimes.event(e),
  });
  const s = series.finish();
  // A finding in a copy that reached its side late sits where that side ran it.
  const findingX = result.findings.map((f) => {
    const m = f.location.ranAfter ?? f.location.message;
    return m !== undefined ? ordinals.lookup(f.location.ctx, m) : undefined;
  });
  return { inputs, result, series: s, lifetimes: lifetimes.finish(s.messages), findingX };
}
