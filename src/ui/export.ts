/**
 * A run report as files a person keeps or opens elsewhere: the report itself as JSON, and the
 * last step as a Chrome trace (Trace Event Format, JSON Object Format) that Perfetto
 * (ui.perfetto.dev) and chrome://tracing open. Pure functions: no DOM, no GPU, so the unit
 * tests run them in Node.
 *
 * Trace Event Format: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU
 */
import { version as VRAMLAB_VERSION } from '../../package.json';
import type { EngineRunReport } from '../protocol/engine-api.ts';
import { reportToTrace as buildTrace, type Trace } from '../protocol/trace.ts';
import { fileSafe, fileStamp } from './download.ts';

export { TRACE_PID, TRACE_TIDS, traceToJson, type Trace, type TraceEvent } from '../protocol/trace.ts';

/** Names the shape of the exported JSON; bump the number when `report` changes incompatibly. */
export const REPORT_SCHEMA = 'vramlab.run-report/1';

export { VRAMLAB_VERSION };

/** Either kind of run the engine reports on: the mlp (RunReport) or the GPT decoder (GptRunReport). */
export type ExportableReport = EngineRunReport;

/** What `reportToJson` writes: a header that says what made the file, then the report unchanged. */
export interface ExportedReport {
  vramlab: { version: string; schema: typeof REPORT_SCHEMA; generatedAt: string };
  report: ExportableReport;
}

/**
 * The report as pretty-printed JSON (2-space indent) under a `vramlab` header with the app
 * version, the schema name and the generation time (ISO 8601, UTC). A non-finite loss (a
 * diverged step) becomes `null`, as JSON.stringify does.
 */
export function reportToJson(report: ExportableReport, now: Date = new Date()): string {
  const doc: ExportedReport = {
    vramlab: { version: VRAMLAB_VERSION, schema: REPORT_SCHEMA, generatedAt: now.toISOString() },
    report,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The last step as a Chrome trace (src/protocol/trace.ts, shared with `vramlab run --trace`), made by this version. */
export function reportToTrace(report: ExportableReport): Trace {
  return buildTrace(report, VRAMLAB_VERSION);
}

/** `vramlab-run-mlp-2026-11-22T20-49-50Z.json` or `….trace.json` (`-gpt-` for a GPT run). */
export function exportFileName(report: ExportableReport, kind: 'json' | 'trace', now: Date = new Date()): string {
  return `vramlab-run-${fileSafe(report.config.model)}-${fileStamp(now)}${kind === 'trace' ? '.trace.json' : '.json'}`;
}
