/**
 * How much this device lets us allocate: WebGPU has no query for free or total GPU memory,
 * so the probe asks by allocating. Chunks go through their own Ledger (house style 4), one
 * at a time, each inside the ledger's 'out-of-memory' and 'validation' error scopes, until
 * the cap, the first out-of-memory, or a limit; then everything is destroyed, whichever way
 * it ends.
 *
 * Gentle on purpose, so it cannot take the GPU process down with it:
 * - a required cap (clamped to MAX_PROBE_BYTES) and at most MAX_PROBE_CHUNKS allocations;
 * - one allocation in flight at a time, and it stops at the first error of any kind;
 * - each chunk at most maxBufferSize, COPY_DST only and not mapped at creation: the buffers
 *   are never written, mapped or bound (Dawn clears a buffer lazily, on first use), so the
 *   probe costs allocations and no bandwidth.
 * What it measures is what the browser and driver grant right now (other tabs and apps hold
 * memory too), not the card's size; on a software adapter it is host memory.
 */
import { Ledger } from './ledger.ts';
import { LEDGER_ERRORS } from '../protocol/ledger.ts';

/** 64 GiB: above any single consumer GPU, and a bound on what a click can ask for. */
export const MAX_PROBE_BYTES = 64 * 2 ** 30;
/** Allocations per probe; at 16 MiB chunks this reaches MAX_PROBE_BYTES. */
export const MAX_PROBE_CHUNKS = 4096;

export interface ProbeOptions {
  /** Stop once this many bytes are held; clamped to MAX_PROBE_BYTES. */
  capBytes: number;
  /** Bytes per allocation; lowered to the device's maxBufferSize, and the last chunk may be smaller to land on the cap. */
  chunkBytes: number;
}

/**
 * - 'cap': capBytes (after clamping) were allocated without an error;
 * - 'out-of-memory': the device refused a chunk for lack of memory; `bytes` were held before it;
 * - 'limit': MAX_PROBE_CHUNKS chunks were held before the cap, or the device refused a chunk
 *   by a validation error (a limit of its own) rather than for memory.
 */
export type ProbeStop = 'cap' | 'out-of-memory' | 'limit';

export interface ProbeResult {
  /** Bytes held at once before the probe stopped (requested sizes; all multiples of 4). */
  bytes: number;
  stoppedBy: ProbeStop;
  /** Chunks held at once. */
  chunks: number;
}

/**
 * Allocates up to `capBytes` in `chunkBytes` pieces and reports how far it got; afterwards
 * nothing it allocated is alive. Throws RangeError for a bad option, an Error named
 * DeviceLost when the device is lost meanwhile, and rethrows anything unexpected (after
 * destroying every chunk).
 */
export async function probeDeviceMemory(device: GPUDevice, opts: ProbeOptions): Promise<ProbeResult> {
  const { capBytes, chunkBytes } = opts;
  if (typeof capBytes !== 'number' || !(capBytes >= 0) || !Number.isFinite(capBytes)) {
    throw new RangeError(`probeDeviceMemory: capBytes must be a finite number of bytes ≥ 0, got ${String(capBytes)}`);
  }
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 4) {
    throw new RangeError(`probeDeviceMemory: chunkBytes must be a whole number of bytes ≥ 4, got ${String(chunkBytes)}`);
  }
  // Multiples of 4 throughout, so requested and allocated sizes agree and `bytes` is exact.
  const cap = floor4(Math.min(capBytes, MAX_PROBE_BYTES));
  const chunk = floor4(Math.min(chunkBytes, device.limits.maxBufferSize));

  // After a loss, error scopes pop as null and createBuffer returns invalid buffers: without
  // this flag the probe would "succeed" up to the cap.
  let lost = false;
  void device.lost.then(() => (lost = true));

  const ledger = new Ledger(device);
  let bytes = 0;
  let chunks = 0;
  try {
    while (bytes < cap) {
      if (chunks >= MAX_PROBE_CHUNKS) return { bytes, stoppedBy: 'limit', chunks };
      const size = Math.min(chunk, cap - bytes);
      try {
        await ledger.create({ name: `probe.chunk${chunks}`, category: 'workspace', size, usage: GPUBufferUsage.COPY_DST });
      } catch (err) {
        const name = (err as Error | undefined)?.name;
        if (name === LEDGER_ERRORS.OutOfMemory) return { bytes, stoppedBy: 'out-of-memory', chunks };
        if (name === LEDGER_ERRORS.BufferTooLarge) return { bytes, stoppedBy: 'limit', chunks };
        throw err;
      }
      if (lost) throw deviceLost(bytes);
      bytes += size;
      chunks += 1;
    }
    return { bytes, stoppedBy: 'cap', chunks };
  } finally {
    ledger.dispose();
  }
}

function floor4(n: number): number {
  return Math.floor(n / 4) * 4;
}

function deviceLost(bytes: number): Error {
  const e = new Error(`The GPU device was lost while probing its memory (${bytes} B held): reload the page, then probe with a lower cap`);
  e.name = 'DeviceLost';
  return e;
}
