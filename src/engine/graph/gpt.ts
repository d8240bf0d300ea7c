/**
 * A GPT-style decoder on the GPU: token and position embeddings, L pre-LayerNorm blocks with
 * causal multi-head attention (eager or fused) and a GELU(tanh) MLP, a final LayerNorm, an
 * LM head tied to the token embedding and cross-entropy over the vocabulary. Buffers follow
 * the layout src/estimate/vramlab-gpt.ts documents, so the ledger and the planner's
 * `framework vramlab` estimate can be compared to the byte.
 *
 * Row-major layouts, rows = batch·seq: activations rows×d; qkv rows×3d ([q | k | v], head j
 * in columns j·headDim…); weights stored in × out (Wqkv d×3d, Wo d×d, W1 d×4d, W2 4d×d), so
 * forward matmuls read them as stored and backward reads them transposed; wte V×d is read
 * transposed by the LM head.
 */
import { recordAttentionEager, recordAttentionEagerBackward, recordAttentionFused, recordAttentionFusedBackward } from '../kernels/attention.ts';
import { recordCrossEntropy } from '../kernels/crossentropy.ts';
import { recordAccumulate, recordAdd } from '../kernels/elementwise.ts';
import { recordEmbedding, recordEmbeddingBackward } from '../kernels/embedding.ts';
import { recordLayerNorm, recordLayerNormBackward } from '../kernels/layernorm.ts';
import { recordLoraActivationGrad } from '../kernels/lora.ts';
import { recordMatmul, type MatmulArgs } from '../kernels/matmul.ts';
import { nf4AbsmaxBytes, nf4CodeBytes, quantizeNf4 } from '../kernels/nf4.ts';
import { packHalf, storageBytes } from '../kernels/storage.ts';
import { recordColumnSum } from '../kernels/reduce.ts';
import type { Ledger } from '../ledger.ts';
import type { StepRecorder } from '../profiler.ts';
import { mulberry32, uniform } from '../rng.ts';
import { type GptRunConfig, loraScaleOf } from '../../protocol/run.ts';
import { type FrozenWeight, type LoraContext, LoraLinear } from './lora.ts';
import { type Grad, type GradInspector, type Param, Trainer } from './trainer.ts';
import { ENGINE_OP } from '../../estimate/vramlab.ts';

/** A block's parameters; under LoRA all frozen, the projections inside `lora` instead of W*. */
interface Block {
  ln1g: Param;
  ln1b: Param;
  Wqkv: Param | null;
  bqkv: Param;
  Wo: Param | null;
  bo: Param;
  ln2g: Param;
  ln2b: Param;
  W1: Param | null;
  b1: Param;
  W2: Param | null;
  b2: Param;
  lora: Record<LoraProjection, LoraLinear> | null;
}

const LORA_PROJECTIONS = ['qkv', 'proj', 'fc1', 'fc2'] as const;
type LoraProjection = (typeof LORA_PROJECTIONS)[number];

/** What a block keeps for backward (its input is tracked beside it). */
interface Saved {
  y1: GPUBuffer;
  mean1: GPUBuffer;
  rstd1: GPUBuffer;
  qkv: GPUBuffer;
  /** Eager: the probabilities; fused: the per-row logsumexp. */
  attn: GPUBuffer;
  out: GPUBuffer;
  x1: GPUBuffer;
  y2: GPUBuffer;
  mean2: GPUBuffer;
  rstd2: GPUBuffer;
  pre: GPUBuffer;
  act: GPUBuffer;
  /** LoRA: s·(x·A) of each projection. */
  xaQkv?: GPUBuffer;
  xaProj?: GPUBuffer;
  xaFc1?: GPUBuffer;
  xaFc2?: GPUBuffer;
}

/** GPT-2's initialisation: N(0, 0.02) weights (here uniform with that deviation), zero biases, unit LayerNorm gains. */
const INIT_STD = 0.02;

export class GptTrainer extends Trainer {
  readonly cfg: GptRunConfig;
  private readonly blocks: Block[] = [];
  private wte!: Param;
  private wpe!: Param;
  private lnfg!: Param;
  private lnfb!: Param;
  private ids!: GPUBuffer;
  private targets!: GPUBuffer;

  private constructor(device: GPUDevice, ledger: Ledger, cfg: GptRunConfig, lr: number) {
    super(device, ledger, { precision: cfg.precision, optimizer: cfg.optimizer, checkpoint: cfg.checkpoint, lr, blocks: cfg.layers });
    this.cfg = cfg;
  }

  get rows(): number {
    return this.cfg.batch * this.cfg.seq;
  }

  /** Selective recompute applies to eager attention; fused attention keeps no s² tensor to drop. */
  private get selective(): boolean {
    return this.cfg.checkpoint === 'selective' && this.cfg.attention === 'eager';
  }

  private get inner(): number {
    return 4 * this.cfg.dModel;
  }

  /** LoRA rank; 0: full fine-tuning. */
  get loraRank(): number {
    return this.cfg.loraRank ?? 0;
  }

  private get loraContext(): LoraContext {
    return { device: this.device, act: this.act, buffer: (name, category, bytes) => this.buffer(name, category, bytes), release: (b) => this.ledger.release(b) };
  }

  /** Allocates and initialises every persistent buffer; on failure frees what it had and rethrows. */
  static async create(device: GPUDevice, ledger: Ledger, cfg: GptRunConfig, lr: number): Promise<GptTrainer> {
    const t = new GptTrainer(device, ledger, cfg, lr);
    try {
      await t.allocate();
    } catch (e) {
      ledger.dispose();
      throw e;
    }
    return t;
  }

  private async allocate(): Promise<void> {
    const { cfg, device } = this;
    const rand = mulberry32(cfg.seed);
    this.ledger.setOp(-1, 'setup');
    const { vocab: V, dModel: d, seq: S } = cfg;
    const I = this.inner;
    const weights = (n: number) => uniform(rand, n, INIT_STD * Math.sqrt(3));
    const fill = (v: number) => (n: number) => new Float32Array(n).fill(v);
    const r = this.loraRank;
    // Under LoRA every base parameter is frozen: no gradient, no optimizer state.
    const param = (name: string, n: number, init: (n: number) => Float32Array, matmul: boolean) => (r > 0 ? this.frozenParam(name, n, init) : this.param(name, n, init, matmul));
    // Adapters from their own stream, so base weights and data are those of the full model.
    const adapterRand = mulberry32((cfg.seed ^ 0x1f83d9ab) >>> 0);
    const scale = loraScaleOf(cfg);
    /** A projection in×out: a Param, or under LoRA a frozen base with its adapters. */
    const projection = async (name: string, K: number, N: number, bias: Param): Promise<{ p: Param | null; lora: LoraLinear | null }> => {
      if (r === 0) return { p: await this.param(name, K * N, weights, true), lora: null };
      const values = weights(K * N);
      let base: FrozenWeight;
      if (cfg.qlora) {
        const q = quantizeNf4(values);
        base = { kind: 'nf4', codes: await this.frozen(`${name}.nf4`, nf4CodeBytes(K * N), () => q.codes), absmax: await this.frozen(`${name}.absmax`, nf4AbsmaxBytes(K * N), () => q.absmax) };
      } else if (this.amp) {
        base = { kind: 'dense', buf: await this.frozen(name, storageBytes(K * N, this.act), () => packHalf(values, this.act as 'f16' | 'bf16')), storage: this.act };
      } else {
        base = { kind: 'dense', buf: await this.frozen(name, 4 * K * N, () => values), storage: 'f32' };
      }
      // PEFT's initialisation: A as nn.Linear's kaiming_uniform(a=√5), U(±1/√in); B zero.
      const A = await this.param(`${name}.lora_A`, K * r, (n) => uniform(adapterRand, n, 1 / Math.sqrt(K)), false, true);
      const B = await this.param(`${name}.lora_B`, r * N, fill(0), false, true);
      return { p: null, lora: new LoraLinear(name, K, N, r, scale, base, bias.master, A, B) };
    };
    this.wte = await param('wte', V * d, weights, true);
    this.wpe = await param('wpe', S * d, weights, false);
    for (let l = 0; l < cfg.layers; l++) {
      const p = `h${l}`;
      const ln1g = await param(`${p}.ln1.g`, d, fill(1), false);
      const ln1b = await param(`${p}.ln1.b`, d, fill(0), false);
      // Each bias before its weight: a LoraLinear holds its frozen bias.
      const bqkv = await param(`${p}.attn.bqkv`, 3 * d, fill(0), false);
      const qkv = await projection(`${p}.attn.Wqkv`, d, 3 * d, bqkv);
      const bo = await param(`${p}.attn.bo`, d, fill(0), false);
      const proj = await projection(`${p}.attn.Wo`, d, d, bo);
      const ln2g = await param(`${p}.ln2.g`, d, fill(1), false);
      const ln2b = await param(`${p}.ln2.b`, d, fill(0), false);
      const b1 = await param(`${p}.mlp.b1`, I, fill(0), false);
      const fc1 = await projection(`${p}.mlp.W1`, d, I, b1);
      const b2 = await param(`${p}.mlp.b2`, d, fill(0), false);
      const fc2 = await projection(`${p}.mlp.W2`, I, d, b2);
      this.blocks.push({
        ln1g,
        ln1b,
        Wqkv: qkv.p,
        bqkv,
        Wo: proj.p,
        bo,
        ln2g,
        ln2b,
        W1: fc1.p,
        b1,
        W2: fc2.p,
        b2,
        lora: r > 0 ? { qkv: qkv.lora!, proj: proj.lora!, fc1: fc1.lora!, fc2: fc2.lora! } : null,
      });
    }
    this.lnfg = await param('lnf.g', d, fill(1), false);
    this.lnfb = await param('lnf.b', d, fill(0), false);
    // The task: count up modulo the vocabulary from a random start; the target of each
    // token is the next one, so a model that learns "add one" drives the loss to 0.
    const ids = new Uint32Array(this.rows);
    const targets = new Uint32Array(this.rows);
    for (let b = 0; b < cfg.batch; b++) {
      const start = Math.floor(rand() * V);
      for (let t = 0; t < S; t++) {
        ids[b * S + t] = (start + t) % V;
        targets[b * S + t] = (start + t + 1) % V;
      }
    }
    this.ids = await this.buffer('ids', 'inputs', 4 * this.rows);
    this.targets = await this.buffer('targets', 'inputs', 4 * this.rows);
    device.queue.writeBuffer(this.ids, 0, ids);
    device.queue.writeBuffer(this.targets, 0, targets);
    await this.allocateWorkspace();
  }

  private matmul(enc: GPUCommandEncoder, a: Omit<MatmulArgs, 'aTransposed' | 'bTransposed'> & { aT?: boolean; bT?: boolean }): void {
    const { aT = false, bT = false, ...rest } = a;
    recordMatmul(this.device, enc, { ...rest, aTransposed: aT, bTransposed: bT });
  }

  /**
   * Block l's forward from input x. With `output` false (the last block of a recomputed
   * segment) it stops after the MLP's activation: backward needs nothing after it.
   */
  private async blockForward(l: number, x: GPUBuffer, enc: GPUCommandEncoder, output: boolean): Promise<{ saved: Saved; x2: GPUBuffer | null }> {
    const { cfg, act, rows } = this;
    const { dModel: d, heads, batch: B, seq: S } = cfg;
    const I = this.inner;
    const blk = this.blocks[l]!;
    const buf = (name: string, bytes: number) => this.buffer(`h${l}.${name}`, 'activations', bytes);
    const y1 = await buf('y1', this.actBytes(rows * d));
    const mean1 = await buf('ln1.mean', 4 * rows);
    const rstd1 = await buf('ln1.rstd', 4 * rows);
    recordLayerNorm(this.device, enc, { x, xStorage: act, rows, cols: d, gamma: blk.ln1g.master, beta: blk.ln1b.master, y: y1, yStorage: act, mean: mean1, rstd: rstd1 });
    const qkv = await buf('qkv', this.actBytes(rows * 3 * d));
    const lora = blk.lora;
    const ctx = this.loraContext;
    const xa: Partial<Saved> = {};
    if (lora) {
      xa.xaQkv = await lora.qkv.forward(ctx, enc, { rows, x: y1, out: qkv });
    } else {
      const wqkv = this.weight(blk.Wqkv!);
      this.matmul(enc, { M: rows, N: 3 * d, K: d, a: y1, aStorage: act, b: wqkv.buf, bStorage: wqkv.storage, out: qkv, outStorage: act, bias: blk.bqkv.master, label: `h${l}.qkv` });
    }
    const shape = { B, s: S, heads, headDim: d / heads };
    let attn: GPUBuffer;
    const out = await buf('attn.out', this.actBytes(rows * d));
    if (cfg.attention === 'eager') {
      attn = await buf('attn.probs', this.actBytes(B * heads * S * S));
      recordAttentionEager(this.device, enc, { ...shape, qkv, qkvStorage: act, probs: attn, probsStorage: act, out, outStorage: act });
    } else {
      attn = await buf('attn.lse', 4 * B * heads * S);
      recordAttentionFused(this.device, enc, { ...shape, qkv, qkvStorage: act, out, outStorage: act, lse: attn });
    }
    const proj = await buf('attn.proj', this.actBytes(rows * d));
    if (lora) {
      xa.xaProj = await lora.proj.forward(ctx, enc, { rows, x: out, out: proj });
    } else {
      const wo = this.weight(blk.Wo!);
      this.matmul(enc, { M: rows, N: d, K: d, a: out, aStorage: act, b: wo.buf, bStorage: wo.storage, out: proj, outStorage: act, bias: blk.bo.master, label: `h${l}.proj` });
    }
    const x1 = await buf('x1', this.actBytes(rows * d));
    recordAdd(this.device, enc, { a: x, aStorage: act, b: proj, bStorage: act, out: x1, outStorage: act, n: rows * d });
    this.ledger.release(proj);
    const y2 = await buf('y2', this.actBytes(rows * d));
    const mean2 = await buf('ln2.mean', 4 * rows);
    const rstd2 = await buf('ln2.rstd', 4 * rows);
    recordLayerNorm(this.device, enc, { x: x1, xStorage: act, rows, cols: d, gamma: blk.ln2g.master, beta: blk.ln2b.master, y: y2, yStorage: act, mean: mean2, rstd: rstd2 });
    const pre = await buf('mlp.pre', this.actBytes(rows * I));
    const a = await buf('mlp.act', this.actBytes(rows * I));
    if (lora) {
      xa.xaFc1 = await lora.fc1.forward(ctx, enc, { rows, x: y2, out: pre, activation: { fn: 'gelu', out: a } });
    } else {
      const w1 = this.weight(blk.W1!);
      this.matmul(enc, {
        M: rows, N: I, K: d, a: y2, aStorage: act, b: w1.buf, bStorage: w1.storage, out: pre, outStorage: act, bias: blk.b1.master,
        epilogue: { kind: 'activation', fn: 'gelu', act: a, actStorage: act }, label: `h${l}.fc1`,
      });
    }
    const saved: Saved = { y1, mean1, rstd1, qkv, attn, out, x1, y2, mean2, rstd2, pre, act: a, ...xa };
    if (!output) {
      // LoRA: fc2's backward still needs its s·(x·A).
      if (lora) saved.xaFc2 = await lora.fc2.forward(ctx, enc, { rows, x: a, out: a, product: false });
      return { saved, x2: null };
    }
    const m = await buf('mlp.out', this.actBytes(rows * d));
    if (lora) {
      saved.xaFc2 = await lora.fc2.forward(ctx, enc, { rows, x: a, out: m });
    } else {
      const w2 = this.weight(blk.W2!);
      this.matmul(enc, { M: rows, N: d, K: I, a, aStorage: act, b: w2.buf, bStorage: w2.storage, out: m, outStorage: act, bias: blk.b2.master, label: `h${l}.fc2` });
    }
    const x2 = await buf('x2', this.actBytes(rows * d));
    recordAdd(this.device, enc, { a: x1, aStorage: act, b: m, bStorage: act, out: x2, outStorage: act, n: rows * d });
    this.ledger.release(m);
    return { saved, x2 };
  }

  private releaseSaved(s: Saved): void {
    for (const b of Object.values(s)) if (b) this.ledger.release(b);
  }

  /**
   * Block l's backward under LoRA (lora.ts): the adapters' gradients only, the base frozen
   * (no dW, no bias or LayerNorm gradients). The same sequence of activation gradients as the
   * full block's, each projection adding d(x·A) and its part of dX for a moment; the GELU's
   * backward is its own kernel, after both products are summed. Returns the block's dX.
   */
  private async blockBackwardLora(l: number, s: Saved, x: GPUBuffer, dX2: GPUBuffer, enc: GPUCommandEncoder, grads: Grad[]): Promise<GPUBuffer> {
    const { cfg, device, ledger, act, rows } = this;
    const { dModel: d, heads, batch: B, seq: S } = cfg;
    const I = this.inner;
    const blk = this.blocks[l]!;
    const lora = blk.lora!;
    const ctx = this.loraContext;
    const g = {} as Record<LoraProjection, { gA: GPUBuffer; gB: GPUBuffer }>;
    for (const k of LORA_PROJECTIONS) g[k] = { gA: await this.grad(grads, lora[k].A), gB: await this.grad(grads, lora[k].B) };
    // MLP: dAct = dX2·W2ᵀ + G2·A2ᵀ; dPre = dAct ⊙ gelu'(pre); dY2 = dPre·W1ᵀ + G1·A1ᵀ.
    const dPre = await this.buffer(`h${l}.mlp.dPre`, 'activation-grads', 4 * rows * I);
    await lora.fc2.backward(ctx, enc, { rows, dY: dX2, x: s.act, xa: s.xaFc2!, dX: dPre, ...g.fc2 });
    recordLoraActivationGrad(device, enc, { g: dPre, pre: s.pre, preStorage: act, fn: 'gelu', n: rows * I });
    const dY2 = await this.buffer(`h${l}.ln2.dy`, 'activation-grads', 4 * rows * d);
    await lora.fc1.backward(ctx, enc, { rows, dY: dPre, x: s.y2, xa: s.xaFc1!, dX: dY2, ...g.fc1 });
    ledger.release(dPre);
    const dX1 = await this.buffer(`h${l}.dx1`, 'activation-grads', 4 * rows * d);
    recordLayerNormBackward(device, enc, { dy: dY2, x: s.x1, xStorage: act, gamma: blk.ln2g.master, mean: s.mean2, rstd: s.rstd2, rows, cols: d, dx: dX1 });
    recordAccumulate(device, enc, { x: dX2, into: dX1, n: rows * d });
    ledger.release(dY2);
    ledger.release(dX2);
    // Attention.
    const dOut = await this.buffer(`h${l}.attn.dOut`, 'activation-grads', 4 * rows * d);
    await lora.proj.backward(ctx, enc, { rows, dY: dX1, x: s.out, xa: s.xaProj!, dX: dOut, ...g.proj });
    const dQkv = await this.buffer(`h${l}.attn.dQkv`, 'activation-grads', 4 * rows * 3 * d);
    const shape = { B, s: S, heads, headDim: d / heads };
    if (cfg.attention === 'eager') {
      recordAttentionEagerBackward(device, enc, { ...shape, qkv: s.qkv, qkvStorage: act, probs: s.attn, probsStorage: act, dOut, dQkv });
    } else {
      recordAttentionFusedBackward(device, enc, { ...shape, qkv: s.qkv, qkvStorage: act, out: s.out, outStorage: act, lse: s.attn, dOut, dQkv });
    }
    ledger.release(dOut);
    const dY1 = await this.buffer(`h${l}.ln1.dy`, 'activation-grads', 4 * rows * d);
    await lora.qkv.backward(ctx, enc, { rows, dY: dQkv, x: s.y1, xa: s.xaQkv!, dX: dY1, ...g.qkv });
    ledger.release(dQkv);
    const dXin = await this.buffer(`h${l}.dx`, 'activation-grads', 4 * rows * d);
    recordLayerNormBackward(device, enc, { dy: dY1, x, xStorage: act, gamma: blk.ln1g.master, mean: s.mean1, rstd: s.rstd1, rows, cols: d, dx: dXin });
    recordAccumulate(device, enc, { x: dX1, into: dXin, n: rows * d });
    ledger.release(dY1);
    ledger.release(dX1);
    this.releaseSaved(s);
    ledger.release(x);
    return dXin;
  }

  async step(rec: StepRecorder, inspect?: GradInspector): Promise<void> {
    const { cfg, device, ledger, act, rows } = this;
    const { vocab: V, dModel: d, layers: L, heads, batch: B, seq: S } = cfg;
    const I = this.inner;
    const { dropped, keepsInput, segmentOf } = this.plan;
    this.beginStep(rec);

    // Forward. inputs[l] is block l's input (x0 for block 0), kept or released per checkpointing.
    const inputs: (GPUBuffer | null)[] = new Array(L).fill(null);
    const saved: (Saved | null)[] = new Array(L).fill(null);
    let xL!: GPUBuffer;
    let yf!: GPUBuffer;
    let meanf!: GPUBuffer;
    let rstdf!: GPUBuffer;
    let logits!: GPUBuffer;
    await rec.phase('forward', async () => {
      this.begin(ENGINE_OP.forwardEmbeddings);
      let x = await this.buffer('x0', 'activations', this.actBytes(rows * d));
      recordEmbedding(device, rec.encoder, { ids: this.ids, rows, seq: S, dim: d, vocab: V, tokenTable: this.wte.master, posTable: this.wpe.master, out: x, outStorage: act });
      for (let l = 0; l < L; l++) {
        this.begin(ENGINE_OP.forwardBlock(l));
        const r = await this.blockForward(l, x, rec.encoder, true);
        if (dropped[l]) {
          this.releaseSaved(r.saved);
          if (!keepsInput[l]) ledger.release(x);
        } else {
          saved[l] = r.saved;
          if (this.selective) {
            // Selective recompute (Korthikanti et al. 2022): drop the s² probabilities only.
            ledger.release(r.saved.attn);
            r.saved.attn = null!;
          }
        }
        inputs[l] = dropped[l] && !keepsInput[l] ? null : x;
        x = r.x2!;
      }
      this.begin(ENGINE_OP.forwardHead);
      xL = x;
      yf = await this.buffer('lnf.y', 'activations', this.actBytes(rows * d));
      meanf = await this.buffer('lnf.mean', 'activations', 4 * rows);
      rstdf = await this.buffer('lnf.rstd', 'activations', 4 * rows);
      recordLayerNorm(device, rec.encoder, { x: xL, xStorage: act, rows, cols: d, gamma: this.lnfg.master, beta: this.lnfb.master, y: yf, yStorage: act, mean: meanf, rstd: rstdf });
      logits = await this.buffer('logits', 'activations', this.actBytes(rows * V));
      const wte = this.weight(this.wte);
      this.matmul(rec.encoder, { M: rows, N: V, K: d, a: yf, aStorage: act, b: wte.buf, bStorage: wte.storage, bT: true, out: logits, outStorage: act, label: 'lm_head' });
    });

    // Loss and the head's backward: the tied embedding's gradient starts here.
    const grads: Grad[] = [];
    let dX!: GPUBuffer;
    await rec.phase('backward', async () => {
      this.begin(ENGINE_OP.lossAndHeadBackward);
      // Under LoRA the head, LNf and the embeddings are frozen: no gradients.
      const frozen = this.loraRank > 0;
      const gWte = frozen ? null : await this.grad(grads, this.wte);
      const gLnf = frozen ? {} : { dGamma: await this.grad(grads, this.lnfg), dBeta: await this.grad(grads, this.lnfb) };
      const dLogits = await this.buffer('dLogits', 'activation-grads', 4 * rows * V);
      recordCrossEntropy(device, rec.encoder, { logits, logitsStorage: act, targets: this.targets, rows, vocab: V, loss: this.loss, dLogits, lossScale: this.lossState });
      // gWte = dLogitsᵀ·yf; dYf = dLogits·wte.
      if (gWte) this.matmul(rec.encoder, { M: V, N: d, K: rows, a: dLogits, aStorage: 'f32', aT: true, b: yf, bStorage: act, out: gWte, outStorage: 'f32', label: 'lm_head.dW' });
      const dYf = await this.buffer('lnf.dy', 'activation-grads', 4 * rows * d);
      const wte = this.weight(this.wte);
      this.matmul(rec.encoder, { M: rows, N: d, K: V, a: dLogits, aStorage: 'f32', b: wte.buf, bStorage: wte.storage, out: dYf, outStorage: 'f32', label: 'lm_head.dX' });
      dX = await this.buffer('lnf.dx', 'activation-grads', 4 * rows * d);
      recordLayerNormBackward(device, rec.encoder, { dy: dYf, x: xL, xStorage: act, gamma: this.lnfg.master, mean: meanf, rstd: rstdf, rows, cols: d, dx: dX, ...gLnf });
      for (const b of [dLogits, logits, dYf, yf, meanf, rstdf, xL]) ledger.release(b);
    });

    const shape = { B, s: S, heads, headDim: d / heads };
    for (let l = L - 1; l >= 0; l--) {
      if (saved[l] === null) {
        await rec.phase('recompute', async () => {
          // Re-run l's segment from its kept input; outputs inside the segment become the
          // inputs of the blocks after them.
          const seg = segmentOf[l]!;
          let x = inputs[seg[0]!]!;
          for (const j of seg) {
            this.begin(ENGINE_OP.recomputeBlock(j));
            const last = j === seg[seg.length - 1];
            const r = await this.blockForward(j, x, rec.encoder, !last);
            saved[j] = r.saved;
            if (!last) {
              inputs[j + 1] = r.x2;
              x = r.x2!;
            }
          }
        });
      }
      if (this.selective) {
        await rec.phase('recompute', async () => {
          // The attention forward again from the kept qkv: it writes the probabilities and,
          // identically, the kept output.
          this.begin(ENGINE_OP.recomputeAttention(l));
          const s = saved[l]!;
          s.attn = await this.buffer(`h${l}.attn.probs`, 'activations', this.actBytes(B * heads * S * S));
          recordAttentionEager(device, rec.encoder, { ...shape, qkv: s.qkv, qkvStorage: act, probs: s.attn, probsStorage: act, out: s.out, outStorage: act });
        });
      }
      await rec.phase('backward', async () => {
        this.begin(ENGINE_OP.backwardBlock(l));
        if (this.blocks[l]!.lora) {
          dX = await this.blockBackwardLora(l, saved[l]!, inputs[l]!, dX, rec.encoder, grads);
          saved[l] = null;
          return;
        }
        const blk = this.blocks[l]!;
        const s = saved[l]!;
        const x = inputs[l]!;
        const enc = rec.encoder;
        const g = {} as Record<Exclude<keyof Block, 'lora'>, GPUBuffer>;
        for (const k of Object.keys(blk) as (keyof Block)[]) if (k !== 'lora') g[k] = await this.grad(grads, blk[k] as Param);
        const dX2 = dX;
        // MLP: dPre = dX2·W2ᵀ ⊙ gelu'(pre); dW2 = actᵀ·dX2; dW1 = y2ᵀ·dPre; dY2 = dPre·W1ᵀ.
        const dPre = await this.buffer(`h${l}.mlp.dPre`, 'activation-grads', 4 * rows * I);
        const w2 = this.weight(blk.W2!);
        this.matmul(enc, { M: rows, N: I, K: d, a: dX2, aStorage: 'f32', b: w2.buf, bStorage: w2.storage, bT: true, out: dPre, outStorage: 'f32', epilogue: { kind: 'activation-grad', fn: 'gelu', pre: s.pre, preStorage: act }, label: `h${l}.dPre` });
        this.matmul(enc, { M: I, N: d, K: rows, a: s.act, aStorage: act, aT: true, b: dX2, bStorage: 'f32', out: g.W2, outStorage: 'f32', label: `h${l}.dW2` });
        recordColumnSum(device, enc, { x: dX2, rows, cols: d, out: g.b2 });
        this.matmul(enc, { M: d, N: I, K: rows, a: s.y2, aStorage: act, aT: true, b: dPre, bStorage: 'f32', out: g.W1, outStorage: 'f32', label: `h${l}.dW1` });
        recordColumnSum(device, enc, { x: dPre, rows, cols: I, out: g.b1 });
        const dY2 = await this.buffer(`h${l}.ln2.dy`, 'activation-grads', 4 * rows * d);
        const w1 = this.weight(blk.W1!);
        this.matmul(enc, { M: rows, N: d, K: I, a: dPre, aStorage: 'f32', b: w1.buf, bStorage: w1.storage, bT: true, out: dY2, outStorage: 'f32', label: `h${l}.dY2` });
        ledger.release(dPre);
        // LN2 and the residual: dX1 = LN2ᵀ(dY2) + dX2.
        const dX1 = await this.buffer(`h${l}.dx1`, 'activation-grads', 4 * rows * d);
        recordLayerNormBackward(device, enc, { dy: dY2, x: s.x1, xStorage: act, gamma: blk.ln2g.master, mean: s.mean2, rstd: s.rstd2, rows, cols: d, dx: dX1, dGamma: g.ln2g, dBeta: g.ln2b });
        recordAccumulate(device, enc, { x: dX2, into: dX1, n: rows * d });
        ledger.release(dY2);
        ledger.release(dX2);
        // Attention: dOut = dX1·Woᵀ; dWo = outᵀ·dX1; then the attention's own backward.
        const dOut = await this.buffer(`h${l}.attn.dOut`, 'activation-grads', 4 * rows * d);
        const wo = this.weight(blk.Wo!);
        this.matmul(enc, { M: rows, N: d, K: d, a: dX1, aStorage: 'f32', b: wo.buf, bStorage: wo.storage, bT: true, out: dOut, outStorage: 'f32', label: `h${l}.dOut` });
        this.matmul(enc, { M: d, N: d, K: rows, a: s.out, aStorage: act, aT: true, b: dX1, bStorage: 'f32', out: g.Wo, outStorage: 'f32', label: `h${l}.dWo` });
        recordColumnSum(device, enc, { x: dX1, rows, cols: d, out: g.bo });
        const dQkv = await this.buffer(`h${l}.attn.dQkv`, 'activation-grads', 4 * rows * 3 * d);
        if (cfg.attention === 'eager') {
          recordAttentionEagerBackward(device, enc, { ...shape, qkv: s.qkv, qkvStorage: act, probs: s.attn, probsStorage: act, dOut, dQkv });
        } else {
          recordAttentionFusedBackward(device, enc, { ...shape, qkv: s.qkv, qkvStorage: act, out: s.out, outStorage: act, lse: s.attn, dOut, dQkv });
        }
        ledger.release(dOut);
        this.matmul(enc, { M: d, N: 3 * d, K: rows, a: s.y1, aStorage: act, aT: true, b: dQkv, bStorage: 'f32', out: g.Wqkv, outStorage: 'f32', label: `h${l}.dWqkv` });
        recordColumnSum(device, enc, { x: dQkv, rows, cols: 3 * d, out: g.bqkv });
        const dY1 = await this.buffer(`h${l}.ln1.dy`, 'activation-grads', 4 * rows * d);
        const wqkv = this.weight(blk.Wqkv!);
        this.matmul(enc, { M: rows, N: d, K: 3 * d, a: dQkv, aStorage: 'f32', b: wqkv.buf, bStorage: wqkv.storage, bT: true, out: dY1, outStorage: 'f32', label: `h${l}.dY1` });
        ledger.release(dQkv);
        // LN1 and the residual: dX = LN1ᵀ(dY1) + dX1.
        const dXin = await this.buffer(`h${l}.dx`, 'activation-grads', 4 * rows * d);
        recordLayerNormBackward(device, enc, { dy: dY1, x, xStorage: act, gamma: blk.ln1g.master, mean: s.mean1, rstd: s.rstd1, rows, cols: d, dx: dXin, dGamma: g.ln1g, dBeta: g.ln1b });
        recordAccumulate(device, enc, { x: dX1, into: dXin, n: rows * d });
        ledger.release(dY1);
        ledger.release(dX1);
        this.releaseSaved(s);
        ledger.release(x);
        saved[l] = null;
        dX = dXin;
      });
    }

    await rec.phase('backward', async () => {
      this.begin(ENGINE_OP.backwardEmbeddings);
      if (this.loraRank > 0) {
        // Frozen embeddings: block 0's input gradient ends here.
        ledger.release(dX);
        return;
      }
      const gWpe = await this.grad(grads, this.wpe);
      // wte's gradient already holds the LM head's part: add the lookup's.
      const gWte = grads.find((x) => x.param === this.wte)!.buffer;
      recordEmbeddingBackward(device, rec.encoder, { ids: this.ids, rows, seq: S, dim: d, vocab: V, dOut: dX, dToken: gWte, accumulateToken: true, dPos: gWpe, maxPos: S });
      ledger.release(dX);
    });

    await this.finishStep(rec, grads, inspect);
  }
}
