/** The library API of bridge-trace. */
export * from './wire/index.js';
export * from './trace/record.js';
export { openTrace, TraceInputError } from './trace/source.js';
export type { OpenTraceOptions, TraceFormat, ContainerInfo } from './trace/source.js';
export { createTraceWriter, formatForPath, TraceOutputError } from './trace/writer.js';
export type { TraceWriter, TraceHeaderInfo } from './trace/writer.js';
export * from './protocol/index.js';
export { formatValue, valueToJson } from './protocol/format.js';
export * from './replay/index.js';
export { renderAnalysisText, analysisToJson, analysisStreamToJson, summaryLine, groupRoots, DEFAULT_MAX_FINDINGS } from './report/analysis.js';
export type { TextReportOptions, FindingGroup } from './report/analysis.js';
export { findingIds } from './report/finding-ids.js';
export { FINDING_HELP, findingDocsLink } from './report/help.js';
export { githubAnnotations, stepSummaryMarkdown } from './report/github.js';
export { junitXml } from './report/junit.js';
export { findingsBySession, type FindingsBySession, type SessionEntry, type SessionFindings } from './report/ci-sessions.js';
export { diffTraces } from './diff/index.js';
