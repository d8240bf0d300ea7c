/**
 * The `mlp` model on the GPU: L blocks of Linear(d→hidden)+bias, activation,
 * Linear(hidden→d)+bias; loss = mean of squares of the last output. Buffers follow the layout
 * that src/estimate/vramlab.ts documents (the planner's `framework vramlab`), so the ledger
 * and the estimate can be compared tensor by tensor.
 *
 * Row-major layouts: x, block outputs B×d; pre, act B×hidden; W1 d×hidden (in × out), so the
 * forward is x·W1 with no transpose; W2 hidden×d.
 */
import { recordCast } from '../kernels/cast.ts';
import { recordMseLoss } from '../kernels/loss.ts';
import { recordMatmul } from '../kernels/matmul.ts';
import {
  LOSS_STATE_BYTES,
  recordCheckFinite,
  recordOptimizerStep,
  recordUpdateLossScale,
  writeHyper,
} from '../kernels/optimizer.ts';
import { recordColumnSum } from '../kernels/reduce.ts';
import { type Storage, packHalf, storageBytes } from '../kernels/storage.ts';
import type { Ledger } from '../ledger.ts';
import type { StepRecorder } from '../profiler.ts';
import { mulberry32, uniform } from '../rng.ts';
import { DEFAULT_LR, type RunConfig } from '../../protocol/run.ts';
import { ENGINE_WORKSPACE } from '../../estimate/vramlab.ts';

// GPUBufferUsage is read lazily: in Node the `webgpu` globals are installed after imports run.
const tensorUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const readbackUsage = () => GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;

/** PyTorch GradScaler defaults: initial scale 2^16, doubled after 2000 clean steps. */
const FP16_INIT_SCALE = 65536;
const GROWTH_INTERVAL = 2000;

interface Param {
  name: string;
  n: number;
  master: GPUBuffer;
  /** 16-bit copy used by the matmuls under amp (weights only; biases stay f32). */
  half: GPUBuffer | null;
  m: GPUBuffer | null;
  v: GPUBuffer | null;
}

interface Block {
  W1: Param;
  b1: Param;
  W2: Param;
  b2: Param;
}

/** Activations of one block that backward needs, plus its input (the previous output). */
interface Saved {
  pre: GPUBuffer | null;
  act: GPUBuffer | null;
}

export type GradInspector = (grads: { name: string; buffer: GPUBuffer; n: number }[]) => Promise<void>;

export class MlpTrainer {
  readonly cfg: RunConfig;
  private readonly device: GPUDevice;
  private readonly ledger: Ledger;
  private readonly act: Storage;
  private readonly blocks: Block[] = [];
  private x!: GPUBuffer;
  private hyper!: GPUBuffer;
  private lossState!: GPUBuffer;
  private loss!: GPUBuffer;
  private lossReadback!: GPUBuffer;
  private stepIndex = 0;
  /** Which blocks keep their input through forward, and which keep nothing (checkpointing). */
  private readonly keepsInput: boolean[];
  private readonly dropped: boolean[];
  private readonly segmentOf: number[][];

  private constructor(device: GPUDevice, ledger: Ledger, cfg: RunConfig) {
    this.device = device;
    this.ledger = ledger;
    this.cfg = cfg;
    this.act = cfg.precision === 'amp-fp16' ? 'f16' : cfg.precision === 'amp-bf16' ? 'bf16' : 'f32';
    const L = cfg.layers;
    this.dropped = Array.from({ length: L }, () => cfg.checkpoint !== 'none');
    this.keepsInput = Array.from({ length: L }, () => cfg.checkpoint === 'full');
    this.segmentOf = Array.from({ length: L }, (_, l) => [l]);
    if (cfg.checkpoint === 'sqrt') {
      // Segments of ⌈√L⌉ blocks; each keeps only its first block's input (Chen et al. 2016).
      const k = Math.max(1, Math.ceil(Math.sqrt(L)));
      for (let s = 0; s < L; s += k) {
        const seg = Array.from({ length: Math.min(k, L - s) }, (_, j) => s + j);
        this.keepsInput[s] = true;
        for (const j of seg) this.segmentOf[j] = seg;
      }
    }
  }

  get amp(): boolean {
    return this.act !== 'f32';
  }

  /**
   * Allocates and initialises every persistent buffer: PyTorch's Linear init
   * U(−1/√fan_in, 1/√fan_in) for weights and biases, x uniform in [−1, 1), all from `seed`.
   * On failure, frees what it had allocated and rethrows.
   */
  static async create(device: GPUDevice, ledger: Ledger, cfg: RunConfig): Promise<MlpTrainer> {
    const t = new MlpTrainer(device, ledger, cfg);
    try {
      await t.allocate();
    } catch (e) {
      ledger.dispose();
      throw e;
    }
    return t;
  }

  private async buffer(name: string, category: Parameters<Ledger['create']>[0]['category'], size: number, usage = tensorUsage()): Promise<GPUBuffer> {
    return this.ledger.create({ name, category, size, usage });
  }

  private async allocate(): Promise<void> {
    const { cfg, ledger, device } = this;
    const rand = mulberry32(cfg.seed);
    const masterCat = this.amp ? 'master-weights' : 'weights';
    const states = cfg.optimizer === 'sgd' ? 0 : cfg.optimizer === 'sgd-momentum' ? 1 : 2;
    ledger.setOp(-1, 'setup');
    const param = async (name: string, n: number, fanIn: number, matrix: boolean): Promise<Param> => {
      const master = await this.buffer(name, masterCat, 4 * n);
      device.queue.writeBuffer(master, 0, uniform(rand, n, 1 / Math.sqrt(fanIn)));
      const half = this.amp && matrix ? await this.buffer(`${name}.half`, 'weights', storageBytes(n, this.act)) : null;
      const m = states >= 1 ? await this.buffer(`${name}.${states === 1 ? 'momentum' : 'm'}`, 'optimizer', 4 * n) : null;
      const v = states >= 2 ? await this.buffer(`${name}.v`, 'optimizer', 4 * n) : null;
      // Optimizer states start at zero, as in torch.optim.
      if (m) device.queue.writeBuffer(m, 0, new Float32Array(n));
      if (v) device.queue.writeBuffer(v, 0, new Float32Array(n));
      return { name, n, master, half, m, v };
    };
    const { d, hidden } = cfg;
    for (let l = 0; l < cfg.layers; l++) {
      this.blocks.push({
        W1: await param(`block${l}.W1`, d * hidden, d, true),
        b1: await param(`block${l}.b1`, hidden, d, false),
        W2: await param(`block${l}.W2`, hidden * d, hidden, true),
        b2: await param(`block${l}.b2`, d, hidden, false),
      });
    }
    const xs = uniform(rand, cfg.batch * d, 1);
    this.x = await this.buffer('x', 'inputs', storageBytes(cfg.batch * d, this.act));
    device.queue.writeBuffer(this.x, 0, this.act === 'f32' ? xs : packHalf(xs, this.act));
    this.hyper = await this.buffer('optimizer.hyper', 'workspace', ENGINE_WORKSPACE.hyperBytes);
    this.lossState = await this.buffer('loss.scaleState', 'workspace', LOSS_STATE_BYTES);
    const state = new ArrayBuffer(LOSS_STATE_BYTES);
    new Float32Array(state, 0, 1)[0] = cfg.precision === 'amp-fp16' ? FP16_INIT_SCALE : 1;
    device.queue.writeBuffer(this.lossState, 0, state);
    this.loss = await this.buffer('loss', 'workspace', ENGINE_WORKSPACE.lossBytes);
    this.lossReadback = await this.buffer('loss.readback', 'staging', 4, readbackUsage());
    if (this.amp) {
      const enc = device.createCommandEncoder({ label: 'MlpTrainer.initCasts' });
      this.refreshHalfCopies(enc);
      device.queue.submit([enc.finish()]);
    }
  }

  private refreshHalfCopies(enc: GPUCommandEncoder): void {
    for (const b of this.blocks) {
      for (const p of [b.W1, b.W2]) recordCast(this.device, enc, { src: p.master, srcStorage: 'f32', dst: p.half!, dstStorage: this.act, n: p.n });
    }
  }

  /** The weight a matmul reads: the 16-bit copy under amp, the fp32 tensor otherwise. */
  private weight(p: Param): { buf: GPUBuffer; storage: Storage } {
    return p.half ? { buf: p.half, storage: this.act } : { buf: p.master, storage: 'f32' };
  }

  /** pre = in·W1 + b1, act = f(pre): the block's first matmul with its fused epilogue. */
  private async firstMatmul(l: number, input: GPUBuffer, enc: GPUCommandEncoder, tag: string): Promise<Saved> {
    const { batch: B, d, hidden } = this.cfg;
    const blk = this.blocks[l]!;
    const pre = await this.buffer(`block${l}.pre${tag}`, 'activations', storageBytes(B * hidden, this.act));
    const act = await this.buffer(`block${l}.act${tag}`, 'activations', storageBytes(B * hidden, this.act));
    const w = this.weight(blk.W1);
    recordMatmul(this.device, enc, {
      M: B, N: hidden, K: d,
      a: input, aStorage: this.act, aTransposed: false,
      b: w.buf, bStorage: w.storage, bTransposed: false,
      out: pre, outStorage: this.act,
      bias: blk.b1.master,
      epilogue: { kind: 'activation', fn: this.cfg.activation, act, actStorage: this.act },
      label: `block${l}.fc1`,
    });
    return { pre, act };
  }

  /** out = act·W2 + b2. */
  private async secondMatmul(l: number, act: GPUBuffer, enc: GPUCommandEncoder, tag: string): Promise<GPUBuffer> {
    const { batch: B, d, hidden } = this.cfg;
    const blk = this.blocks[l]!;
    const out = await this.buffer(`block${l}.out${tag}`, 'activations', storageBytes(B * d, this.act));
    const w = this.weight(blk.W2);
    recordMatmul(this.device, enc, {
      M: B, N: d, K: hidden,
      a: act, aStorage: this.act, aTransposed: false,
      b: w.buf, bStorage: w.storage, bTransposed: false,
      out, outStorage: this.act,
      bias: blk.b2.master,
      label: `block${l}.fc2`,
    });
    return out;
  }

  /**
   * One training step: forward, loss, backward (recomputing checkpointed blocks), optimizer.
   * `inspect` (tests) sees the gradients after backward, before the update.
   */
  async step(rec: StepRecorder, inspect?: GradInspector): Promise<void> {
    const { cfg, ledger, device } = this;
    const L = cfg.layers;
    const { batch: B, d, hidden } = cfg;
    this.stepIndex += 1;
    // torch.optim defaults: momentum 0.9 (as configured by most recipes), Adam β = (0.9, 0.999), ε = 1e-8, AdamW decay 0.01.
    writeHyper(device.queue, this.hyper, { lr: cfg.lr ?? DEFAULT_LR[cfg.optimizer], step: this.stepIndex, weightDecay: cfg.optimizer === 'adamw' ? 0.01 : 0, momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    let op = 0;
    const begin = (label: string) => ledger.setOp(op++, label);

    // Forward. inputs[l] is block l's input (x for block 0), kept or released per checkpointing.
    const inputs: (GPUBuffer | null)[] = new Array(L).fill(null);
    const saved: Saved[] = Array.from({ length: L }, () => ({ pre: null, act: null }));
    let lastOut!: GPUBuffer;
    await rec.phase('forward', async () => {
      let input = this.x;
      for (let l = 0; l < L; l++) {
        begin(`forward block ${l}`);
        const s = await this.firstMatmul(l, input, rec.encoder, '');
        const out = await this.secondMatmul(l, s.act!, rec.encoder, '');
        if (this.dropped[l]) {
          ledger.release(s.pre!);
          ledger.release(s.act!);
          if (l > 0 && !this.keepsInput[l]) ledger.release(input);
        } else {
          saved[l] = s;
        }
        inputs[l] = l === 0 ? null : this.dropped[l] && !this.keepsInput[l] ? null : input;
        input = out;
      }
      lastOut = input;
    });

    // Loss and its gradient; the loss keeps the last output until here.
    let dOut!: GPUBuffer;
    await rec.phase('backward', async () => {
      begin('loss');
      dOut = await this.buffer('loss.dOut', 'activation-grads', 4 * B * d);
      recordMseLoss(device, rec.encoder, { y: lastOut, yStorage: this.act, n: B * d, loss: this.loss, dy: dOut, lossScale: this.lossState });
      ledger.release(lastOut);
    });

    const grads: { name: string; buffer: GPUBuffer; n: number; param: Param }[] = [];
    for (let l = L - 1; l >= 0; l--) {
      if (this.dropped[l] && saved[l]!.pre === null) {
        await rec.phase('recompute', async () => {
          // Re-run the forward of l's segment from its kept input; outputs inside the segment
          // become the inputs of the blocks after them.
          const seg = this.segmentOf[l]!;
          let input = seg[0] === 0 ? this.x : inputs[seg[0]!]!;
          for (const j of seg) {
            begin(`recompute block ${j}`);
            saved[j] = await this.firstMatmul(j, input, rec.encoder, '.recomputed');
            if (j !== seg[seg.length - 1]) {
              const out = await this.secondMatmul(j, saved[j]!.act!, rec.encoder, '.recomputed');
              inputs[j + 1] = out;
              input = out;
            }
          }
        });
      }
      await rec.phase('backward', async () => {
        begin(`backward block ${l}`);
        const blk = this.blocks[l]!;
        const s = saved[l]!;
        const input = l === 0 ? this.x : inputs[l]!;
        const g = async (p: Param) => {
          const buffer = await this.buffer(`${p.name}.grad`, 'gradients', 4 * p.n);
          grads.push({ name: `${p.name}.grad`, buffer, n: p.n, param: p });
          return buffer;
        };
        const gW1 = await g(blk.W1);
        const gb1 = await g(blk.b1);
        const gW2 = await g(blk.W2);
        const gb2 = await g(blk.b2);
        const dPre = await this.buffer(`block${l}.dPre`, 'activation-grads', 4 * B * hidden);
        const enc = rec.encoder;
        // dW2 = actᵀ·dOut (act stored B×hidden, read transposed).
        recordMatmul(device, enc, { M: hidden, N: d, K: B, a: s.act!, aStorage: this.act, aTransposed: true, b: dOut, bStorage: 'f32', bTransposed: false, out: gW2, outStorage: 'f32', label: `block${l}.dW2` });
        recordColumnSum(device, enc, { x: dOut, rows: B, cols: d, out: gb2 });
        // dPre = (dOut·W2ᵀ) ⊙ f'(pre) (W2 stored hidden×d, read transposed).
        const w2 = this.weight(blk.W2);
        recordMatmul(device, enc, {
          M: B, N: hidden, K: d,
          a: dOut, aStorage: 'f32', aTransposed: false,
          b: w2.buf, bStorage: w2.storage, bTransposed: true,
          out: dPre, outStorage: 'f32',
          epilogue: { kind: 'activation-grad', fn: this.cfg.activation, pre: s.pre!, preStorage: this.act },
          label: `block${l}.dPre`,
        });
        // dW1 = inᵀ·dPre, db1 = Σ_rows dPre.
        recordMatmul(device, enc, { M: d, N: hidden, K: B, a: input, aStorage: this.act, aTransposed: true, b: dPre, bStorage: 'f32', bTransposed: false, out: gW1, outStorage: 'f32', label: `block${l}.dW1` });
        recordColumnSum(device, enc, { x: dPre, rows: B, cols: hidden, out: gb1 });
        let dIn: GPUBuffer | null = null;
        if (l > 0) {
          dIn = await this.buffer(`block${l}.dIn`, 'activation-grads', 4 * B * d);
          const w1 = this.weight(blk.W1);
          recordMatmul(device, enc, { M: B, N: d, K: hidden, a: dPre, aStorage: 'f32', aTransposed: false, b: w1.buf, bStorage: w1.storage, bTransposed: true, out: dIn, outStorage: 'f32', label: `block${l}.dIn` });
        }
        ledger.release(dOut);
        ledger.release(dPre);
        ledger.release(s.pre!);
        ledger.release(s.act!);
        if (l > 0) ledger.release(input);
        saved[l] = { pre: null, act: null };
        if (dIn) dOut = dIn;
      });
    }

    if (inspect) {
      await rec.submit();
      await inspect(grads.map(({ name, buffer, n }) => ({ name, buffer, n })));
    }

    await rec.phase('optimizer', async () => {
      begin('optimizer');
      const enc = rec.encoder;
      // fp16 loss scaling: any non-finite gradient skips the whole step (PyTorch GradScaler).
      if (cfg.precision === 'amp-fp16') for (const g of grads) recordCheckFinite(device, enc, { grads: g.buffer, n: g.n, lossState: this.lossState });
      for (const g of grads) {
        const p = g.param;
        recordOptimizerStep(device, enc, { kind: cfg.optimizer, n: p.n, params: p.master, grads: g.buffer, m: p.m ?? undefined, v: p.v ?? undefined, hyper: this.hyper, lossState: this.lossState });
      }
      if (this.amp) this.refreshHalfCopies(enc);
      if (cfg.precision === 'amp-fp16') recordUpdateLossScale(device, enc, { lossState: this.lossState, growthInterval: GROWTH_INTERVAL });
      for (const g of grads) ledger.release(g.buffer);
    });
  }

  /** The loss of the last step (reads back 4 bytes; call between steps). */
  async readLoss(): Promise<number> {
    const enc = this.device.createCommandEncoder({ label: 'MlpTrainer.readLoss' });
    enc.copyBufferToBuffer(this.loss, 0, this.lossReadback, 0, 4);
    this.device.queue.submit([enc.finish()]);
    await this.lossReadback.mapAsync(GPUMapMode.READ);
    const v = new Float32Array(this.lossReadback.getMappedRange().slice(0))[0]!;
    this.lossReadback.unmap();
    return v;
  }

  /** Steps skipped by the loss scaler so far. */
  async readSkippedSteps(): Promise<number> {
    return (await this.readWords(this.lossState, 4))[3]!;
  }

  /** Reads u32 words of a buffer through a temporary staging buffer (between steps only). */
  async readWords(src: GPUBuffer, words: number): Promise<Uint32Array> {
    const staging = await this.ledger.create({ name: 'readback', category: 'staging', size: 4 * words, usage: readbackUsage() });
    try {
      const enc = this.device.createCommandEncoder({ label: 'MlpTrainer.readWords' });
      enc.copyBufferToBuffer(src, 0, staging, 0, 4 * words);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const out = new Uint32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      return out;
    } finally {
      this.ledger.destroy(staging);
    }
  }

  /** f32 contents of a buffer (tests: gradients, parameters). */
  async readFloats(src: GPUBuffer, n: number): Promise<Float32Array> {
    return new Float32Array((await this.readWords(src, n)).buffer);
  }

  /** The fp32 parameters, by name (tests). */
  params(): { name: string; buffer: GPUBuffer; n: number }[] {
    return this.blocks.flatMap((b) => [b.W1, b.b1, b.W2, b.b2].map((p) => ({ name: p.name, buffer: p.master, n: p.n })));
  }
}
