/**
 * Per-adapter tuning of the tiled matmul: times every candidate tile size that the device's
 * limits allow on an n×n×n f32 product and makes the fastest the device's tiles. The choice
 * is cached per adapter by the caller (the CLI keeps a file; see cli/tiles-cache.ts), keyed by
 * adapterKey(), so a machine tunes once.
 *
 * Timing is wall-clock around submissions of `batch` products in one encoder, after a warm-up
 * that compiles the pipeline: the minimum over `repeats`, in ms per product.
 */
import { GPU_MATMUL_TRAITS, MATMUL_TILE_CANDIDATES, matmulSplitK, matmulTilesFor, recordMatmul, setMatmulTiles, splitKPlan, splitKWorkspaceBytes, tileCols, tileRows, tilesProblem, type MatmulTiles } from './kernels/matmul.ts';
import { encodeStorage, storageBytes, type Storage } from './kernels/storage.ts';
import { recordPlainMatmul } from './kernels/matmul-plain.ts';
import { Ledger } from './ledger.ts';

export interface TileTiming {
  tiles: MatmulTiles;
  ms: number;
  gflops: number;
}

export interface TuneResult {
  n: number;
  best: MatmulTiles;
  timings: TileTiming[];
  /** Candidates the device cannot run, with the reason. */
  skipped: { tiles: MatmulTiles; reason: string }[];
}

export interface TuneOptions {
  /** Side of the square product timed (1024 suits a GPU; 128 SwiftShader). */
  n: number;
  repeats?: number;
  batch?: number;
  onProgress?: (done: number, total: number, tiles: MatmulTiles) => void;
}

/** What identifies an adapter for a cached choice: vendor, architecture, device, description. */
export function adapterKey(info: { vendor?: string; architecture?: string; device?: string; description?: string }): string {
  return [info.vendor, info.architecture, info.device, info.description].map((s) => s ?? '').join('|');
}

/**
 * An n×n · n×n f32 product on ledger buffers, for timing: `record` adds one product by the
 * engine's matmul to an encoder, `recordPlain` the same product by the plain kernel
 * (kernels/matmul-plain.ts) into the same out.
 */
export interface SquareMatmul {
  n: number;
  record(encoder: GPUCommandEncoder): void;
  recordPlain(encoder: GPUCommandEncoder): void;
}

/**
 * A, B (filled with a fixed pattern in [−0.5, 0.5)) and out, n×n f32 each, from `ledger` and
 * named `<label>.A` …; what tuneMatmul and `vramlab bench` time.
 */
export async function createSquareMatmul(device: GPUDevice, ledger: Ledger, n: number, label: string): Promise<SquareMatmul> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const a = await ledger.create({ name: `${label}.A`, category: 'inputs', size: 4 * n * n, usage });
  const b = await ledger.create({ name: `${label}.B`, category: 'inputs', size: 4 * n * n, usage });
  const out = await ledger.create({ name: `${label}.out`, category: 'activations', size: 4 * n * n, usage });
  const values = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  device.queue.writeBuffer(a, 0, values);
  device.queue.writeBuffer(b, 0, values);
  return {
    n,
    record: (encoder) =>
      recordMatmul(device, encoder, { M: n, N: n, K: n, a, aStorage: 'f32', aTransposed: false, b, bStorage: 'f32', bTransposed: false, out, outStorage: 'f32', label }),
    recordPlain: (encoder) => recordPlainMatmul(device, encoder, { M: n, N: n, K: n, a, b, out, label }),
  };
}

/** How one product of a MatmulUnderTest is recorded: the kernel variants to compare. */
export interface MatmulVariant {
  /** Register prefetch of the next k-slice in the tiled kernel (default: the device's). */
  prefetch?: boolean;
  /** 'off', or a slice count (the workspace is the product's own). */
  splitK?: 'off' | number;
}

/**
 * An M×N×K product on ledger buffers for timing variants of the engine's matmul against each
 * other: A (stored K×M, read transposed when aTransposed: a weight gradient Xᵀ·dY), B and out
 * in one storage. With splitK slices, its f32 workspace is a ledger buffer of category
 * workspace, sized for that split.
 */
export interface MatmulUnderTest {
  record(encoder: GPUCommandEncoder, variant: MatmulVariant): void;
  /** Slices the device's own choice ('auto') makes of this product. */
  autoSlices: number;
}

export async function createMatmulUnderTest(
  device: GPUDevice,
  ledger: Ledger,
  shape: { M: number; N: number; K: number; storage: Storage; aTransposed: boolean; splitK?: number },
  label: string,
): Promise<MatmulUnderTest> {
  const { M, N, K, storage, aTransposed } = shape;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const fill = (n: number) => encodeStorage(new Float32Array(n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5), storage);
  const a = await ledger.create({ name: `${label}.A`, category: 'inputs', size: storageBytes(M * K, storage), usage });
  const b = await ledger.create({ name: `${label}.B`, category: 'inputs', size: storageBytes(K * N, storage), usage });
  const out = await ledger.create({ name: `${label}.out`, category: 'activations', size: storageBytes(M * N, storage), usage });
  device.queue.writeBuffer(a, 0, fill(M * K));
  device.queue.writeBuffer(b, 0, fill(K * N));
  const wsBytes = shape.splitK === undefined ? 0 : splitKWorkspaceBytes(matmulSplitK(device, M, N, K, shape.splitK), M, N);
  const ws = wsBytes > 0 ? await ledger.create({ name: `${label}.splitK`, category: 'workspace', size: wsBytes, usage: GPUBufferUsage.STORAGE }) : undefined;
  return {
    autoSlices: matmulSplitK(device, M, N, K).slices,
    record: (encoder, v) =>
      recordMatmul(device, encoder, {
        M, N, K, a, aStorage: storage, aTransposed, b, bStorage: storage, bTransposed: false, out, outStorage: storage, label,
        ...(v.prefetch === undefined ? {} : { prefetch: v.prefetch }),
        splitK: v.splitK ?? 'off',
        ...(ws ? { splitKWorkspace: ws } : {}),
      }),
  };
}

/**
 * The slices a GPU (GPU_MATMUL_TRAITS) would split an M×N×K product into with the tiles it
 * gets on device: what the bench times split-K at, also on an adapter that would not split.
 */
export function gpuSplitKSlices(device: GPUDevice, M: number, N: number, K: number): number {
  const t = matmulTilesFor(device, M, N);
  return splitKPlan({ M, N, K, tileRows: tileRows(t), tileCols: tileCols(t), tk: t.tk, fillWorkgroups: GPU_MATMUL_TRAITS.fillWorkgroups }).slices;
}

/** Times each candidate, sets the fastest on the device and returns every timing. Frees all it allocated. */
export async function tuneMatmul(device: GPUDevice, opts: TuneOptions): Promise<TuneResult> {
  const { n } = opts;
  if (!Number.isInteger(n) || n < 16 || n > 16384) throw new RangeError(`tuneMatmul: n must be an integer in [16, 16384], got ${n}`);
  const repeats = opts.repeats ?? 3;
  const batch = opts.batch ?? 4;
  const ledger = new Ledger(device);
  const timings: TileTiming[] = [];
  const skipped: TuneResult['skipped'] = [];
  const runnable = MATMUL_TILE_CANDIDATES.filter((t) => {
    const reason = tilesProblem(device, t);
    if (reason) skipped.push({ tiles: t, reason });
    return reason === null;
  });
  if (runnable.length === 0) throw new Error(`tuneMatmul: no candidate tile size fits this device (${skipped[0]?.reason ?? 'none'})`);
  try {
    const product = await createSquareMatmul(device, ledger, n, 'tune');
    const submit = async (count: number) => {
      const enc = device.createCommandEncoder({ label: 'tune.encoder' });
      for (let i = 0; i < count; i++) product.record(enc);
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    for (const [i, tiles] of runnable.entries()) {
      opts.onProgress?.(i, runnable.length, tiles);
      setMatmulTiles(device, tiles);
      await submit(1);
      let best = Infinity;
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        await submit(batch);
        best = Math.min(best, (performance.now() - t0) / batch);
      }
      timings.push({ tiles, ms: best, gflops: (2 * n ** 3) / (best * 1e6) });
    }
    opts.onProgress?.(runnable.length, runnable.length, runnable.at(-1)!);
  } finally {
    ledger.dispose();
  }
  const best = timings.reduce((x, y) => (y.ms < x.ms ? y : x)).tiles;
  setMatmulTiles(device, best);
  return { n, best, timings, skipped };
}
