/**
 * The matmul tile sizes `vramlab bench --tune` found, kept per adapter in
 * $VRAMLAB_CACHE_DIR (else $XDG_CACHE_HOME/vramlab, else ~/.cache/vramlab)/matmul-tiles.json, so
 * `bench` and `run` use them on that adapter without tuning again. The file is untrusted input: a
 * malformed one is ignored (with a warning), never half-read.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { MatmulTiles } from '../engine/kernels/matmul.ts';
import { readBoundedText } from './read-bounded.ts';

/** A few hundred bytes per adapter: a file past this is not one `bench --tune` wrote. */
export const MAX_TILES_CACHE_BYTES = 1 << 20;

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
    text = readBoundedText(path, MAX_TILES_CACHE_BYTES);
  } catch (e) {
    // None yet is the usual case; anything else there (a directory, a FIFO, a huge file) is said.
    if ((e as { code?: string }).code === 'ENOENT') return { file: { version: 1, adapters: {} } };
    return { file: { version: 1, adapters: {} }, problem: `${path}: cannot read it (${(e as Error).message}); ignored (delete it or run vramlab bench --tune)` };
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

/** A file system error in a few words: the code says more than Node's whole sentence. */
function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'a read-only file system';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a part of the path is a file, not a folder';
    case 'ENOSPC':
      return 'the disk is full';
    default:
      return err.code ?? err.message;
  }
}

/**
 * Why the tiles could not be saved to `path`, or null when they can: the folder is made and a
 * file written and removed in it, the way saveTiles() will. `bench --tune` asks before it
 * spends its time tuning.
 */
export function tilesCacheWriteProblem(path: string): string | null {
  const tmp = `${path}.${process.pid}.check`;
  try {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(tmp, '');
    rmSync(tmp);
    return null;
  } catch (e) {
    return `cannot write ${path}: ${fsReason(e)}`;
  }
}

/**
 * Records the tiles for the adapter, keeping the other adapters' entries; written whole, then
 * renamed. Returns null, or why it could not (the caller still has the tiles for this run).
 */
export function saveTiles(path: string, adapterKey: string, entry: TilesEntry): string | null {
  const { file } = readTilesCache(path);
  file.adapters[adapterKey] = entry;
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
    renameSync(tmp, path);
    return null;
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // There was never a temporary file (its folder cannot exist).
    }
    return `cannot write ${path}: ${fsReason(e)}`;
  }
}
