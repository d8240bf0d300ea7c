/**
 * The matmul tile sizes `vramlab bench --tune` found, kept per adapter in
 * $VRAMLAB_CACHE_DIR (else $XDG_CACHE_HOME/vramlab, else ~/.cache/vramlab)/matmul-tiles.json, so
 * `bench` and `run` use them on that adapter without tuning again. The file is untrusted input: a
 * malformed one is ignored (with a warning), never half-read.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { MatmulTiles } from '../engine/kernels/matmul.ts';

const Count = z.number().int().min(1).max(1024);
const TilesSchema = z.object({ tm: Count, tn: Count, wgx: Count, wgy: Count, tk: Count });
const EntrySchema = z.object({ tiles: TilesSchema, n: z.number().int().positive(), gflops: z.number().nonnegative(), tuned: z.string().max(64) });
const FileSchema = z.object({ version: z.literal(1), adapters: z.record(z.string().max(1024), EntrySchema) });
export type TilesEntry = z.infer<typeof EntrySchema>;
type TilesFile = z.infer<typeof FileSchema>;

export function tilesCachePath(env: Record<string, string | undefined>): string {
  const dir = env.VRAMLAB_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'vramlab');
  return join(dir, 'matmul-tiles.json');
}

/** The file's entries, or an empty table (and why) when it is missing or malformed. */
export function readTilesCache(path: string): { file: TilesFile; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { file: { version: 1, adapters: {} } };
  }
  try {
    const r = FileSchema.safeParse(JSON.parse(text));
    if (r.success) return { file: r.data };
    const issue = r.error.issues[0]!;
    return { file: { version: 1, adapters: {} }, problem: `${path}: ${issue.path.join('.') || 'file'}: ${issue.message}; ignored (delete it or run vramlab bench --tune)` };
  } catch (e) {
    return { file: { version: 1, adapters: {} }, problem: `${path}: not JSON (${(e as Error).message}); ignored (delete it or run vramlab bench --tune)` };
  }
}

export function cachedTiles(path: string, adapterKey: string): { tiles?: MatmulTiles; problem?: string } {
  const { file, problem } = readTilesCache(path);
  const entry = Object.hasOwn(file.adapters, adapterKey) ? file.adapters[adapterKey] : undefined;
  return { ...(entry ? { tiles: entry.tiles } : {}), ...(problem ? { problem } : {}) };
}

/** Records the tiles for the adapter, keeping the other adapters' entries; written whole, then renamed. */
export function saveTiles(path: string, adapterKey: string, entry: TilesEntry): void {
  const { file } = readTilesCache(path);
  file.adapters[adapterKey] = entry;
  mkdirSync(join(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
  renameSync(tmp, path);
}
