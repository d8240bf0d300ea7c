/**
 * `vramlab compare --snapshot file.pickle [estimate flags]`: a PyTorch measurement of a
 * training step (the pickle `torch.cuda.memory._dump_snapshot()` writes) replayed to its peak
 * and per-phase peaks (src/protocol/memory-snapshot.ts), beside the estimate of the same plan
 * (framework pytorch unless --framework says otherwise), with the error per phase.
 */
import { resolve } from 'node:path';
import { estimate } from '../estimate/index.ts';
import { toCsv } from '../protocol/csv.ts';
import { MAX_SNAPSHOT_BYTES, readMemorySnapshot, replaySnapshot, type SnapshotReplay } from '../protocol/memory-snapshot.ts';
import { compareSnapshot, type Comparison } from '../protocol/snapshot-compare.ts';

import { parseEstimateArgs, UsageError, type EstimateArgs } from './args.ts';
import { formatBytes } from './format.ts';
import { INPUT_FILE_ERROR, readBoundedBytes } from './read-bounded.ts';

export interface CompareArgs extends EstimateArgs {
  snapshotPath: string;
}

/** The estimate flags plus --snapshot PATH (required). */
export function parseCompareArgs(argv: readonly string[]): CompareArgs {
  const rest: string[] = [];
  let snapshotPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let value: string | undefined;
    if (a === '--snapshot') value = argv[++i] ?? '';
    else if (a.startsWith('--snapshot=')) value = a.slice('--snapshot='.length);
    else {
      rest.push(a);
      continue;
    }
    if (snapshotPath !== undefined) throw new UsageError('--snapshot is given twice; compare one snapshot at a time', '--snapshot');
    if (value === '' || value.startsWith('--')) throw new UsageError('--snapshot needs the path of a .pickle from torch.cuda.memory._dump_snapshot()', '--snapshot');
    snapshotPath = value;
  }
  const args = parseEstimateArgs(rest, { command: 'compare' });
  if (args.help) return { ...args, snapshotPath: '' };
  if (snapshotPath === undefined) throw new UsageError('--snapshot is required: the .pickle torch.cuda.memory._dump_snapshot() wrote for the step to compare', '--snapshot');
  if (args.config.mode !== 'train') throw new UsageError('compare checks a training step (forward, backward, optimizer); drop --mode inference', '--mode');
  return { ...args, snapshotPath };
}

/** Reads, replays and compares; every bad file is a UsageError naming --snapshot. */
export function runCompare(args: CompareArgs): Comparison {
  let bytes: Uint8Array;
  try {
    bytes = readBoundedBytes(resolve(args.snapshotPath), MAX_SNAPSHOT_BYTES);
  } catch (err) {
    const e = err as Error & { code?: string };
    const why = e.name === INPUT_FILE_ERROR ? e.message : e.code === 'ENOENT' ? 'no such file' : e.message;
    throw new UsageError(`--snapshot: cannot read '${args.snapshotPath}': ${why}`, '--snapshot');
  }
  let replay: SnapshotReplay;
  try {
    replay = replaySnapshot(readMemorySnapshot(bytes));
  } catch (err) {
    if ((err as Error).name !== 'SnapshotError') throw err;
    throw new UsageError(`--snapshot ${args.snapshotPath}: ${(err as Error).message}`, '--snapshot');
  }
  return compareSnapshot(replay, estimate(args.config), args.snapshotPath, args.config.framework);
}

const pct = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`);

export function formatComparison(c: Comparison): string {
  const s = c.snapshot;
  const lines = [
    `Snapshot  ${s.path}: device ${s.device}, ${s.events} trace events (${s.allocs} allocs, ${s.frees} frees), ${formatBytes(s.initialBytes)} allocated before the trace`,
    `Estimate  ${c.estimate.model}, framework ${c.estimate.framework}`,
    '',
  ];
  const rows = [['phase', 'measured peak', 'estimated peak', 'error (estimate − measured)']];
  for (const r of c.rows) rows.push([r.phase, r.measuredBytes === null ? 'no events' : formatBytes(r.measuredBytes), formatBytes(r.estimatedBytes), pct(r.error)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) lines.push(`  ${r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('   ')}`.trimEnd());
  lines.push(
    '',
    `Measured: the most bytes allocated at once (requested sizes, as memory_viz sums them); each event's phase comes from its frames (torch/optim, autograd, a module's forward).`,
    '',
  );
  return lines.join('\n');
}

export const COMPARE_CSV_HEADER = ['phase', 'measured_bytes', 'estimated_bytes', 'error_fraction'] as const;

export function comparisonToCsv(c: Comparison): string {
  return toCsv([[...COMPARE_CSV_HEADER], ...c.rows.map((r) => [r.phase, r.measuredBytes ?? '', r.estimatedBytes, r.error ?? ''])]);
}
