/**
 * The files `vramlab run` writes beside its report: `--trace` (the Chrome trace the page
 * exports, src/protocol/trace.ts) and `--memory-snapshot` (a PyTorch memory snapshot for
 * pytorch.org/memory_viz, src/protocol/memory-snapshot.ts). Each path is checked before the
 * run starts, so a typo costs no training.
 */
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { AnyEngineRunReport } from '../protocol/engine-api.ts';
import { memorySnapshotPickle } from '../protocol/memory-snapshot.ts';
import { reportToTrace, traceToJson } from '../protocol/trace.ts';
import { UsageError } from './args.ts';
import { oneLine } from './text.ts';

export interface RunOutputPaths {
  trace?: string;
  memorySnapshot?: string;
}

const FLAGS: Record<keyof RunOutputPaths, string> = { trace: '--trace', memorySnapshot: '--memory-snapshot' };

/** Throws a UsageError naming the flag when a path cannot be written: no folder, a folder itself, no permission. */
export function checkRunOutputs(paths: RunOutputPaths): void {
  for (const key of Object.keys(FLAGS) as (keyof RunOutputPaths)[]) {
    const path = paths[key];
    if (path === undefined) continue;
    const flag = FLAGS[key];
    const full = resolve(path);
    const dir = dirname(full);
    let why: string | null = null;
    try {
      if (!statSync(dir).isDirectory()) why = `${dir} is not a folder`;
      else accessSync(dir, constants.W_OK);
      const stat = statSync(full, { throwIfNoEntry: false });
      if (stat?.isDirectory()) why = 'it is a folder; give a file name';
      else if (stat) accessSync(full, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      why ??= code === 'ENOENT' ? `the folder ${dir} does not exist` : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : oneLine((err as Error).message);
    }
    if (why !== null) throw new UsageError(`${flag} ${path}: cannot write there (${why})`, flag);
  }
}

/** Writes the files asked for from the finished run's report. */
export function writeRunOutputs(paths: RunOutputPaths, report: AnyEngineRunReport, version: string): void {
  if (paths.trace !== undefined) writeFileSync(paths.trace, traceToJson(reportToTrace(report, version)));
  if (paths.memorySnapshot !== undefined) writeFileSync(paths.memorySnapshot, memorySnapshotPickle(report));
}
