/**
 * A GPT-style decoder on the GPU: token and position embeddings, L pre-LayerNorm blocks with
 * causal multi-head attention (eager or fused) and a GELU(tanh) MLP, a final LayerNorm, an
 * LM head tied to the token embedding and cross-entropy over the vocabulary; with LoRA or
 * QLoRA (lora.ts) on the block projections. Every parameter and every tensor comes from the
 * model description (src/estimate/vramlab-gpt.ts) by name, with the bytes it gives: the
 * planner's framework-vramlab estimate reads the same description, and the ledger of a run
 * equals it to the byte.
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
import { recordColumnSum } from '../kernels/reduce.ts';
import type { Ledger } from '../ledger.ts';
import type { StepRecording } from '../profiler.ts';
import { mulberry32 } from '../rng.ts';
import { type GptRunConfig, loraScaleOf } from '../../protocol/run.ts';
import type { ModelDescription, UnitDesc } from '../../estimate/describe.ts';
import { loraName } from '../../estimate/describe-lora.ts';
import { gptDescriptionOfRun, gptLoraTargets, gptParamName } from '../../estimate/vramlab-gpt.ts';
import { ENGINE_OP } from '../../estimate/vramlab.ts';
import { type DecoderBody, DescribedTrainer } from './described.ts';
import { type LoraContext, LoraLinear } from './lora.ts';
import type { Grad, GradInspector, Param } from './trainer.ts';

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
  /** Eager: the probabilities (null once selective recompute dropped them); fused: the per-row logsumexp. */
  attn: GPUBuffer | null;
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

export class GptTrainer extends DescribedTrainer {
  readonly cfg: GptRunConfig;
  readonly desc: ModelDescription;
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
    this.desc = gptDescriptionOfRun(cfg);
  }

  private unitOfBlock(l: number): UnitDesc {
    return this.desc.units[1 + l]!;
  }

  private get headUnit(): UnitDesc {
    return this.desc.units[this.desc.units.length - 1]!;
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

  /** What block l's adapters allocate: the block's tensors, as the description gives them. */
  private loraContext(l: number): LoraContext {
    const u = this.unitOfBlock(l);
    return { device: this.device, act: this.act, buffer: (name, category, bytes) => this.checkedTensor(u, name, category, bytes), release: (b) => this.ledger.release(b) };
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
    const { cfg } = this;
    const rand = mulberry32(cfg.seed);
    this.ledger.setOp(-1, 'setup');
    // Adapters from their own stream, so base weights and data are those of the full model.
    await this.allocateParams(rand, mulberry32((cfg.seed ^ 0x1f83d9ab) >>> 0));
    const I = this.inner;
    const scale = loraScaleOf(cfg);
    const lora = this.loraRank > 0;
    /** Under LoRA a projection is its frozen base (fp32, packed 16-bit or NF4) with its adapters. */
    const adapted = (w: string, K: number, N: number, bias: Param): LoraLinear =>
      new LoraLinear(w, K, N, this.loraRank, scale, this.frozenWeight(w), bias.master, this.p(loraName.A(w)), this.p(loraName.B(w)));
    for (let l = 0; l < cfg.layers; l++) {
      const n = gptParamName.block(l);
      const d = cfg.dModel;
      const blk: Block = {
        ln1g: this.p(n.ln1g), ln1b: this.p(n.ln1b), Wqkv: lora ? null : this.p(n.Wqkv), bqkv: this.p(n.bqkv), Wo: lora ? null : this.p(n.Wo), bo: this.p(n.bo),
        ln2g: this.p(n.ln2g), ln2b: this.p(n.ln2b), W1: lora ? null : this.p(n.W1), b1: this.p(n.b1), W2: lora ? null : this.p(n.W2), b2: this.p(n.b2), lora: null,
      };
      if (lora) {
        const tg = gptLoraTargets(l, d, I);
        blk.lora = { qkv: adapted(tg.qkv.name, d, 3 * d, blk.bqkv), proj: adapted(tg.proj.name, d, d, blk.bo), fc1: adapted(tg.fc1.name, d, I, blk.b1), fc2: adapted(tg.fc2.name, I, d, blk.b2) };
      }
      this.blocks.push(blk);
    }
    this.wte = this.p(gptParamName.wte);
    this.wpe = this.p(gptParamName.wpe);
    this.lnfg = this.p(gptParamName.lnfg);
    this.lnfb = this.p(gptParamName.lnfb);
    ({ ids: this.ids, targets: this.targets } = await this.countingTask(rand, cfg));
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
    const u = this.unitOfBlock(l);
    const t = (name: string) => this.t(u, `h${l}.${name}`);
    const y1 = await t('y1');
    const mean1 = await t('ln1.mean');
    const rstd1 = await t('ln1.rstd');
    recordLayerNorm(this.device, enc, { x, xStorage: act, rows, cols: d, gamma: blk.ln1g.master, beta: blk.ln1b.master, y: y1, yStorage: act, mean: mean1, rstd: rstd1 });
    const qkv = await t('qkv');
    const lora = blk.lora;
    const ctx = this.loraContext(l);
    const xa: Partial<Saved> = {};
    if (lora) {
      xa.xaQkv = await lora.qkv.forward(ctx, enc, { rows, x: y1, out: qkv });
    } else {
      const wqkv = this.weight(blk.Wqkv!);
      this.matmul(enc, { M: rows, N: 3 * d, K: d, a: y1, aStorage: act, b: wqkv.buf, bStorage: wqkv.storage, out: qkv, outStorage: act, bias: blk.bqkv.master, label: `h${l}.qkv` });
    }
    const shape = { B, s: S, heads, headDim: d / heads };
    let attn: GPUBuffer;
    const out = await t('attn.out');
    if (cfg.attention === 'eager') {
      attn = await t('attn.probs');
      recordAttentionEager(this.device, enc, { ...shape, qkv, qkvStorage: act, probs: attn, probsStorage: act, out, outStorage: act });
    } else {
      attn = await t('attn.lse');
      recordAttentionFused(this.device, enc, { ...shape, qkv, qkvStorage: act, out, outStorage: act, lse: attn });
    }
    const proj = await t('attn.proj');
    if (lora) {
      xa.xaProj = await lora.proj.forward(ctx, enc, { rows, x: out, out: proj });
    } else {
      const wo = this.weight(blk.Wo!);
      this.matmul(enc, { M: rows, N: d, K: d, a: out, aStorage: act, b: wo.buf, bStorage: wo.storage, out: proj, outStorage: act, bias: blk.bo.master, label: `h${l}.proj` });
    }
    const x1 = await t('x1');
    recordAdd(this.device, enc, { a: x, aStorage: act, b: proj, bStorage: act, out: x1, outStorage: act, n: rows * d });
    this.ledger.release(proj);
    const y2 = await t('y2');
    const mean2 = await t('ln2.mean');
    const rstd2 = await t('ln2.rstd');
    recordLayerNorm(this.device, enc, { x: x1, xStorage: act, rows, cols: d, gamma: blk.ln2g.master, beta: blk.ln2b.master, y: y2, yStorage: act, mean: mean2, rstd: rstd2 });
    const pre = await t('mlp.pre');
    const a = await t('mlp.act');
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
    const m = await t('mlp.out');
    if (lora) {
      saved.xaFc2 = await lora.fc2.forward(ctx, enc, { rows, x: a, out: m });
    } else {
      const w2 = this.weight(blk.W2!);
      this.matmul(enc, { M: rows, N: d, K: I, a, aStorage: act, b: w2.buf, bStorage: w2.storage, out: m, outStorage: act, bias: blk.b2.master, label: `h${l}.fc2` });
    }
    const x2 = await t('x2');
    recordAdd(this.device, enc, { a: x1, aStorage: act, b: m, bStorage: act, out: x2, outStorage: act, n: rows * d });
    this.ledger.release(m);
    return { saved, x2 };
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
    const ctx = this.loraContext(l);
    const u = this.unitOfBlock(l);
    const t = (name: string) => this.t(u, `h${l}.${name}`);
    const g = {} as Record<LoraProjection, { gA: GPUBuffer; gB: GPUBuffer }>;
    for (const k of LORA_PROJECTIONS) g[k] = { gA: await this.grad(grads, lora[k].A), gB: await this.grad(grads, lora[k].B) };
    // MLP: dAct = dX2·W2ᵀ + G2·A2ᵀ; dPre = dAct ⊙ gelu'(pre); dY2 = dPre·W1ᵀ + G1·A1ᵀ.
    const dPre = await t('mlp.dPre');
    await lora.fc2.backward(ctx, enc, { rows, dY: dX2, x: s.act, xa: s.xaFc2!, dX: dPre, ...g.fc2 });
    recordLoraActivationGrad(device, enc, { g: dPre, pre: s.pre, preStorage: act, fn: 'gelu', n: rows * I });
    const dY2 = await t('ln2.dy');
    await lora.fc1.backward(ctx, enc, { rows, dY: dPre, x: s.y2, xa: s.xaFc1!, dX: dY2, ...g.fc1 });
    ledger.release(dPre);
    const dX1 = await t('dx1');
    recordLayerNormBackward(device, enc, { dy: dY2, x: s.x1, xStorage: act, gamma: blk.ln2g.master, mean: s.mean2, rstd: s.rstd2, rows, cols: d, dx: dX1 });
    recordAccumulate(device, enc, { x: dX2, into: dX1, n: rows * d });
    ledger.release(dY2);
    ledger.release(dX2);
    // Attention.
    const dOut = await t('attn.dOut');
    await lora.proj.backward(ctx, enc, { rows, dY: dX1, x: s.out, xa: s.xaProj!, dX: dOut, ...g.proj });
    const dQkv = await t('attn.dQkv');
    const shape = { B, s: S, heads, headDim: d / heads };
    if (cfg.attention === 'eager') {
      recordAttentionEagerBackward(device, enc, { ...shape, qkv: s.qkv, qkvStorage: act, probs: s.attn!, probsStorage: act, dOut, dQkv });
    } else {
      recordAttentionFusedBackward(device, enc, { ...shape, qkv: s.qkv, qkvStorage: act, out: s.out, outStorage: act, lse: s.attn!, dOut, dQkv });
    }
    ledger.release(dOut);
    const dY1 = await t('ln1.dy');
    await lora.qkv.backward(ctx, enc, { rows, dY: dQkv, x: s.y1, xa: s.xaQkv!, dX: dY1, ...g.qkv });
    ledger.release(dQkv);
    const dXin = await t('dx');
    recordLayerNormBackward(device, enc, { dy: dY1, x, xStorage: act, gamma: blk.ln1g.master, mean: s.mean1, rstd: s.rstd1, rows, cols: d, dx: dXin });
    recordAccumulate(device, enc, { x: dX1, into: dXin, n: rows * d });
    ledger.release(dY1);
    ledger.release(dX1);
    this.releaseSaved(s);
    ledger.release(x);
    return dXin;
  }

  async step(rec: StepRecording, inspect?: GradInspector): Promise<void> {
    const { cfg, device, ledger, act, rows } = this;
    const { vocab: V, dModel: d, layers: L, heads, batch: B, seq: S } = cfg;
    const I = this.inner;
    const head = this.headUnit;
    this.beginStep(rec);

    // Forward. body.inputs[l] is block l's input (x0 for block 0), kept or released per checkpointing.
    let body!: DecoderBody<Saved>;
    let xL!: GPUBuffer;
    let yf!: GPUBuffer;
    let meanf!: GPUBuffer;
    let rstdf!: GPUBuffer;
    let logits!: GPUBuffer;
    await rec.phase('forward', async () => {
      this.begin(ENGINE_OP.forwardEmbeddings);
      const x = await this.t(this.desc.units[0]!, 'x0');
      recordEmbedding(device, rec.encoder, { ids: this.ids, rows, seq: S, dim: d, vocab: V, tokenTable: this.wte.master, posTable: this.wpe.master, out: x, outStorage: act });
      body = await this.forwardBlocks(x, L, this.selective, (l, x, output) => this.blockForward(l, x, rec.encoder, output));
      this.begin(ENGINE_OP.forwardHead);
      xL = body.out;
      yf = await this.t(head, 'lnf.y');
      meanf = await this.t(head, 'lnf.mean');
      rstdf = await this.t(head, 'lnf.rstd');
      recordLayerNorm(device, rec.encoder, { x: xL, xStorage: act, rows, cols: d, gamma: this.lnfg.master, beta: this.lnfb.master, y: yf, yStorage: act, mean: meanf, rstd: rstdf });
      logits = await this.t(head, 'logits');
      const wte = this.weight(this.wte);
      this.matmul(rec.encoder, { M: rows, N: V, K: d, a: yf, aStorage: act, b: wte.buf, bStorage: wte.storage, bT: true, out: logits, outStorage: act, label: 'lm_head' });
    });

    // Loss and the head's backward: the tied embedding's gradient starts here.
    const { inputs, saved } = body;
    const grads: Grad[] = [];
    let dX!: GPUBuffer;
    await rec.phase('backward', async () => {
      this.begin(ENGINE_OP.lossAndHeadBackward);
      // Under LoRA the head, LNf and the embeddings are frozen: no gradients.
      const frozen = this.loraRank > 0;
      const gWte = frozen ? null : await this.grad(grads, this.wte);
      const gLnf = frozen ? {} : { dGamma: await this.grad(grads, this.lnfg), dBeta: await this.grad(grads, this.lnfb) };
      const dLogits = await this.t(head, 'dLogits');
      recordCrossEntropy(device, rec.encoder, { logits, logitsStorage: act, targets: this.targets, rows, vocab: V, loss: this.loss, dLogits, lossScale: this.lossState });
      // gWte = dLogitsᵀ·yf; dYf = dLogits·wte.
      if (gWte) this.matmul(rec.encoder, { M: V, N: d, K: rows, a: dLogits, aStorage: 'f32', aT: true, b: yf, bStorage: act, out: gWte, outStorage: 'f32', label: 'lm_head.dW' });
      const dYf = await this.t(head, 'lnf.dy');
      const wte = this.weight(this.wte);
      this.matmul(rec.encoder, { M: rows, N: d, K: V, a: dLogits, aStorage: 'f32', b: wte.buf, bStorage: wte.storage, out: dYf, outStorage: 'f32', label: 'lm_head.dX' });
      dX = await this.t(head, 'lnf.dx');
      recordLayerNormBackward(device, rec.encoder, { dy: dYf, x: xL, xStorage: act, gamma: this.lnfg.master, mean: meanf, rstd: rstdf, rows, cols: d, dx: dX, ...gLnf });
      for (const b of [dLogits, logits, dYf, yf, meanf, rstdf, xL]) ledger.release(b);
    });

    const shape = { B, s: S, heads, headDim: d / heads };
    for (let l = L - 1; l >= 0; l--) {
      if (saved[l] === null) await rec.phase('recompute', () => this.recomputeSegment(l, body, (j, x, output) => this.blockForward(j, x, rec.encoder, output)));
      if (this.selective) {
        await rec.phase('recompute', async () => {
          // The attention forward again from the kept qkv: it writes the probabilities and,
          // identically, the kept output.
          this.begin(ENGINE_OP.recomputeAttention(l));
          const s = saved[l]!;
          s.attn = await this.t(this.unitOfBlock(l), `h${l}.attn.probs`);
          recordAttentionEager(device, rec.encoder, { ...shape, qkv: s.qkv, qkvStorage: act, probs: s.attn!, probsStorage: act, out: s.out, outStorage: act });
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
        const u = this.unitOfBlock(l);
        const t = (name: string) => this.t(u, `h${l}.${name}`);
        const g = {} as Record<Exclude<keyof Block, 'lora'>, GPUBuffer>;
        for (const k of Object.keys(blk) as (keyof Block)[]) if (k !== 'lora') g[k] = await this.grad(grads, blk[k] as Param);
        const dX2 = dX;
        // MLP: dPre = dX2·W2ᵀ ⊙ gelu'(pre); dW2 = actᵀ·dX2; dW1 = y2ᵀ·dPre; dY2 = dPre·W1ᵀ.
        const dPre = await t('mlp.dPre');
        const w2 = this.weight(blk.W2!);
        this.matmul(enc, { M: rows, N: I, K: d, a: dX2, aStorage: 'f32', b: w2.buf, bStorage: w2.storage, bT: true, out: dPre, outStorage: 'f32', epilogue: { kind: 'activation-grad', fn: 'gelu', pre: s.pre, preStorage: act }, label: `h${l}.dPre` });
        this.matmul(enc, { M: I, N: d, K: rows, a: s.act, aStorage: act, aT: true, b: dX2, bStorage: 'f32', out: g.W2, outStorage: 'f32', label: `h${l}.dW2` });
        recordColumnSum(device, enc, { x: dX2, rows, cols: d, out: g.b2 });
        this.matmul(enc, { M: d, N: I, K: rows, a: s.y2, aStorage: act, aT: true, b: dPre, bStorage: 'f32', out: g.W1, outStorage: 'f32', label: `h${l}.dW1` });
        recordColumnSum(device, enc, { x: dPre, rows, cols: I, out: g.b1 });
        const dY2 = await t('ln2.dy');
        const w1 = this.weight(blk.W1!);
        this.matmul(enc, { M: rows, N: d, K: I, a: dPre, aStorage: 'f32', b: w1.buf, bStorage: w1.storage, bT: true, out: dY2, outStorage: 'f32', label: `h${l}.dY2` });
        ledger.release(dPre);
        // LN2 and the residual: dX1 = LN2ᵀ(dY2) + dX2.
        const dX1 = await t('dx1');
        recordLayerNormBackward(device, enc, { dy: dY2, x: s.x1, xStorage: act, gamma: blk.ln2g.master, mean: s.mean2, rstd: s.rstd2, rows, cols: d, dx: dX1, dGamma: g.ln2g, dBeta: g.ln2b });
        recordAccumulate(device, enc, { x: dX2, into: dX1, n: rows * d });
        ledger.release(dY2);
        ledger.release(dX2);
        // Attention: dOut = dX1·Woᵀ; dWo = outᵀ·dX1; then the attention's own backward.
        const dOut = await t('attn.dOut');
        const wo = this.weight(blk.Wo!);
        this.matmul(enc, { M: rows, N: d, K: d, a: dX1, aStorage: 'f32', b: wo.buf, bStorage: wo.storage, bT: true, out: dOut, outStorage: 'f32', label: `h${l}.dOut` });
        this.matmul(enc, { M: d, N: d, K: rows, a: s.out, aStorage: act, aT: true, b: dX1, bStorage: 'f32', out: g.Wo, outStorage: 'f32', label: `h${l}.dWo` });
        recordColumnSum(device, enc, { x: dX1, rows, cols: d, out: g.bo });
        const dQkv = await t('attn.dQkv');
        if (cfg.attention === 'eager') {
          recordAttentionEagerBackward(device, enc, { ...shape, qkv: s.qkv, qkvStorage: act, probs: s.attn!, probsStorage: act, dOut, dQkv });
        } else {
          recordAttentionFusedBackward(device, enc, { ...shape, qkv: s.qkv, qkvStorage: act, out: s.out, outStorage: act, lse: s.attn!, dOut, dQkv });
        }
        ledger.release(dOut);
        this.matmul(enc, { M: d, N: 3 * d, K: rows, a: s.y1, aStorage: act, aT: true, b: dQkv, bStorage: 'f32', out: g.Wqkv, outStorage: 'f32', label: `h${l}.dWqkv` });
        recordColumnSum(device, enc, { x: dQkv, rows, cols: 3 * d, out: g.bqkv });
        const dY1 = await t('ln1.dy');
        const wqkv = this.weight(blk.Wqkv!);
        this.matmul(enc, { M: rows, N: d, K: 3 * d, a: dQkv, aStorage: 'f32', b: wqkv.buf, bStorage: wqkv.storage, bT: true, out: dY1, outStorage: 'f32', label: `h${l}.dY1` });
        ledger.release(dQkv);
        // LN1 and the residual: dX = LN1ᵀ(dY1) + dX1.
        const dXin = await t('dx');
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
