/**
 * How many FLOP/s this device gives the engine's training step: a throughput probe the lab
 * uses to size a lesson to a room's patience (stepWork's FLOPs ÷ this rate ≈ seconds). It times
 * an mlp block's forward — x·W1 + b1 with the GELU epilogue, then act·W2 + b2, d × 4d × d with
 * a batch of d rows — through the same tiled matmul kernels and tiles a step uses, for a few
 * hundred ms after a warm-up that compiles the pipelines.
 *
 * Size: d = 128 first (33.6 MFLOP a block, ≈ 70 ms on SwiftShader); a device that runs that in
 * under 10 ms gets d = 512 (2.15 GFLOP), where per-dispatch overhead stops dominating. Timing
 * is wall clock around up to three submissions of whole blocks, ≈ `targetMs` in all (one
 * block when a single block takes longer).
 */
import { type MatmulEpilogue, KERNEL_WORK } from '../estimate/vramlab-work.ts';
import { recordMatmul } from './kernels/matmul.ts';
import { Ledger } from './ledger.ts';
import type { ThroughputReport } from '../protocol/engine-api.ts';

export interface ThroughputOptions {
  /** Allocate through this ledger (every buffer is destroyed again before returning); default a private one. */
  ledger?: Ledger;
  /** Wall time to spend timing, ms (the warm-up comes on top). Default 300. */
  targetMs?: number;
}

/** Block sizes tried in turn: the first whose block takes at least FAST_MS, or the last. */
const SIDES = [128, 512] as const;
const FAST_MS = 10;
const SUBMISSIONS = 3;
const GELU: MatmulEpilogue = { kind: 'activation', fn: 'gelu' };

interface Block {
  flops: number;
  record(encoder: GPUCommandEncoder): void;
  buffers: GPUBuffer[];
}

async function createBlock(device: GPUDevice, ledger: Ledger, d: number): Promise<Block> {
  const h = 4 * d;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const buffers: GPUBuffer[] = [];
  const make = async (name: string, n: number, category: 'inputs' | 'weights' | 'activations') => {
    const b = await ledger.create({ name: `throughput.${name}`, category, size: 4 * n, usage });
    buffers.push(b);
    if (category !== 'activations') device.queue.writeBuffer(b, 0, new Float32Array(n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5));
    return b;
  };
  try {
    const x = await make('x', d * d, 'inputs');
    const w1 = await make('W1', d * h, 'weights');
    const b1 = await make('b1', h, 'weights');
    const w2 = await make('W2', h * d, 'weights');
    const b2 = await make('b2', d, 'weights');
    const pre = await make('pre', d * h, 'activations');
    const act = await make('act', d * h, 'activations');
    const out = await make('out', d * d, 'activations');
    const f32 = 'f32' as const;
    return {
      flops: KERNEL_WORK.matmul(d, h, d, true, GELU).flops + KERNEL_WORK.matmul(d, d, h, true, undefined).flops,
      buffers,
      record(encoder) {
        recordMatmul(device, encoder, {
          M: d, N: h, K: d, a: x, aStorage: f32, aTransposed: false, b: w1, bStorage: f32, bTransposed: false, out: pre, outStorage: f32, bias: b1,
          epilogue: { kind: 'activation', fn: 'gelu', act, actStorage: f32 }, label: 'throughput.fc1',
        });
        recordMatmul(device, encoder, { M: d, N: d, K: h, a: act, aStorage: f32, aTransposed: false, b: w2, bStorage: f32, bTransposed: false, out, outStorage: f32, bias: b2, label: 'throughput.fc2' });
      },
    };
  } catch (e) {
    for (const b of buffers) ledger.destroy(b);
    throw e;
  }
}

/** Submits `blocks` blocks in one encoder and waits for them; returns the wall time in ms. */
async function time(device: GPUDevice, block: Block, blocks: number): Promise<number> {
  const t0 = performance.now();
  const enc = device.createCommandEncoder({ label: 'throughput.encoder' });
  for (let i = 0; i < blocks; i++) block.record(enc);
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/** Measures the device's matmul throughput (see the file comment); frees everything it allocated. */
export async function measureThroughput(device: GPUDevice, opts: ThroughputOptions = {}): Promise<ThroughputReport> {
  const targetMs = opts.targetMs ?? 300;
  if (!Number.isFinite(targetMs) || targetMs <= 0 || targetMs > 60_000) throw new RangeError(`measureThroughput: targetMs must be in (0, 60000], got ${targetMs}`);
  const ledger = opts.ledger ?? new Ledger(device);
  let block: Block | null = null;
  const free = () => {
    for (const b of block?.buffers ?? []) ledger.destroy(b);
    block = null;
  };
  try {
    let once = 0;
    for (const d of SIDES) {
      free();
      block = await createBlock(device, ledger, d);
      await time(device, block, 1); // compiles the pipelines
      once = await time(device, block, 1);
      if (once >= FAST_MS) break;
    }
    const b = block!;
    // Blocks that fill targetMs at the warm rate (at least one), in up to SUBMISSIONS submissions.
    const blocks = Math.max(1, Math.min(30_000, Math.round(targetMs / Math.max(once, 1e-3))));
    const submissions = Math.min(SUBMISSIONS, blocks);
    const perSubmission = Math.ceil(blocks / submissions);
    let ms = 0;
    for (let i = 0; i < submissions; i++) ms += await time(device, b, perSubmission);
    const flops = b.flops * perSubmission * submissions;
    return { gflops: flops / (ms * 1e6), ms, flops };
  } finally {
    free();
    if (!opts.ledger) ledger.dispose();
  }
}
