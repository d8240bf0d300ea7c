/**
 * A Llama-style decoder on the GPU (llama, mistral, qwen2): token embedding, L pre-RMSNorm
 * blocks with rotary positions, grouped-query causal attention (eager or fused) and a SwiGLU
 * MLP, a final RMSNorm, an LM head tied to the embedding or its own, cross-entropy. Every
 * parameter and every tensor comes from the model description (src/estimate/vramlab-llama.ts)
 * by name, with the bytes it gives: the planner's framework-vramlab estimate reads the same
 * description, and the ledger of a run equals it to the byte.
 *
 * Layouts are row-major, rows = batch·seq, and as the description documents: qkv rows × W,
 * [q (heads) | k (kvHeads) | v (kvHeads)] heads of headDim, rotated in q and k after the
 * projection; gu rows × 2·inner, [gate | up]. Weights are stored in × out; forward matmuls read
 * them as stored, backward transposed.
 *
 * LoRA and QLoRA (cfg.loraRank > 0; lora.ts): the block projections Wqkv (with qwen2's bias),
 * Wo, Wgu and Wd are LoraLinears over a frozen base (fp32, packed 16-bit under amp, NF4 under
 * QLoRA), everything else is frozen fp32; `project` and `projectBackward` go through the
 * adapter, which keeps s·(x·A) for backward. Only the adapters have gradients: no weight
 * gradient, no RMSNorm gain's, no embedding's or LM head's.
 */
import { recordAttentionEager, recordAttentionEagerBackward, recordAttentionFused, recordAttentionFusedBackward } from '../kernels/attention.ts';
import { recordCrossEntropy } from '../kernels/crossentropy.ts';
import { recordAccumulate, recordAdd } from '../kernels/elementwise.ts';
import { recordEmbedding, recordEmbeddingBackward } from '../kernels/embedding.ts';
import { recordRmsNorm, recordRmsNormBackward } from '../kernels/layernorm.ts';
import { recordMatmul } from '../kernels/matmul.ts';
import { recordColumnSum } from '../kernels/reduce.ts';
import { recordRope } from '../kernels/rope.ts';
import type { Storage } from '../kernels/storage.ts';
import { recordSwiglu, recordSwigluBackward } from '../kernels/swiglu.ts';
import type { Ledger } from '../ledger.ts';
import type { StepRecording } from '../profiler.ts';
import { mulberry32 } from '../rng.ts';
import { type LlamaRunConfig, loraScaleOf } from '../../protocol/run.ts';
import { type DecoderBody, DescribedTrainer } from './described.ts';
import { type LoraContext, LoraLinear } from './lora.ts';
import type { Grad, GradInspector, Param } from './trainer.ts';
import type { ModelDescription, UnitDesc } from '../../estimate/describe.ts';
import { loraName } from '../../estimate/describe-lora.ts';
import { llamaDescription, llamaParamName } from '../../estimate/vramlab-llama.ts';
import { ENGINE_OP } from '../../estimate/vramlab.ts';

const PROJECTIONS = ['qkv', 'o', 'gu', 'down'] as const;
type Projection = (typeof PROJECTIONS)[number];

/** A block's parameters; under LoRA all frozen, the projections' bases inside `lora`. */
interface Block {
  ln1: Param;
  Wqkv: Param | null;
  bqkv: Param | null;
  Wo: Param | null;
  ln2: Param;
  Wgu: Param | null;
  Wd: Param | null;
  lora: Record<Projection, LoraLinear> | null;
}

/** What a block keeps for backward (its input is tracked beside it). */
interface Saved {
  y1: GPUBuffer;
  rstd1: GPUBuffer;
  qkv: GPUBuffer;
  /** Eager: the probabilities (null once selective recompute dropped them); fused: the per-row logsumexp. */
  attn: GPUBuffer | null;
  out: GPUBuffer;
  x1: GPUBuffer;
  y2: GPUBuffer;
  rstd2: GPUBuffer;
  gu: GPUBuffer;
  act: GPUBuffer;
  /** LoRA: s·(x·A) of each projection. */
  xaQkv?: GPUBuffer;
  xaO?: GPUBuffer;
  xaGu?: GPUBuffer;
  xaDown?: GPUBuffer;
}

const XA_OF = { qkv: 'xaQkv', o: 'xaO', gu: 'xaGu', down: 'xaDown' } as const satisfies Record<Projection, keyof Saved>;

/** A projection: y = x·W (+ b), W stored in × out. */
interface Linear {
  W: Param;
  b: Param | null;
  inF: number;
  outF: number;
}

export class LlamaTrainer extends DescribedTrainer {
  readonly cfg: LlamaRunConfig;
  readonly desc: ModelDescription;
  private readonly blocks: Block[] = [];
  private ids!: GPUBuffer;
  private targets!: GPUBuffer;

  private constructor(device: GPUDevice, ledger: Ledger, cfg: LlamaRunConfig, lr: number) {
    super(device, ledger, { precision: cfg.precision, optimizer: cfg.optimizer, checkpoint: cfg.checkpoint, lr, blocks: cfg.layers });
    this.cfg = cfg;
    this.desc = llamaDescription(
      { vocab: cfg.vocab, d: cfg.dModel, layers: cfg.layers, heads: cfg.heads, kvHeads: cfg.kvHeads, headDim: cfg.headDim, inner: cfg.inner, tied: cfg.tied, qkvBias: cfg.qkvBias },
      { batch: cfg.batch, seq: cfg.seq, amp: cfg.precision !== 'fp32', attention: cfg.attention, loraRank: cfg.loraRank ?? 0, qlora: cfg.qlora ?? false },
    );
  }

  /** LoRA rank; 0: full fine-tuning. */
  get loraRank(): number {
    return this.cfg.loraRank ?? 0;
  }

  private get loraContext(): LoraContext {
    return { device: this.device, act: this.act, buffer: (name, category, bytes) => this.buffer(name, category, bytes), release: (b) => this.ledger.release(b) };
  }

  get rows(): number {
    return this.cfg.batch * this.cfg.seq;
  }

  private get selective(): boolean {
    return this.cfg.checkpoint === 'selective' && this.cfg.attention === 'eager';
  }

  private get qkvWidth(): number {
    return (this.cfg.heads + 2 * this.cfg.kvHeads) * this.cfg.headDim;
  }

  private get unitOfBlock(): (l: number) => UnitDesc {
    return (l) => this.desc.units[1 + l]!;
  }

  private get headUnit(): UnitDesc {
    return this.desc.units[this.desc.units.length - 1]!;
  }

  static async create(device: GPUDevice, ledger: Ledger, cfg: LlamaRunConfig, lr: number): Promise<LlamaTrainer> {
    const t = new LlamaTrainer(device, ledger, cfg, lr);
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
    // LoRA's adapters from their own stream, so base weights and data are those of the full model.
    await this.allocateParams(rand, mulberry32((cfg.seed ^ 0x1f83d9ab) >>> 0));
    const lora = (n: ReturnType<typeof llamaParamName.block>): Record<Projection, LoraLinear> => {
      const { dModel: d, inner: I } = cfg;
      const shapes: Record<Projection, [string, number, number]> = { qkv: [n.Wqkv, d, this.qkvWidth], o: [n.Wo, cfg.heads * cfg.headDim, d], gu: [n.Wgu, d, 2 * I], down: [n.Wd, I, d] };
      const out = {} as Record<Projection, LoraLinear>;
      for (const k of PROJECTIONS) {
        const [name, K, N] = shapes[k];
        const bias = k === 'qkv' && cfg.qkvBias ? this.p(n.bqkv).master : null;
        out[k] = new LoraLinear(name, K, N, this.loraRank, loraScaleOf(cfg), this.frozenWeight(name), bias, this.p(loraName.A(name)), this.p(loraName.B(name)));
      }
      return out;
    };
    for (let l = 0; l < cfg.layers; l++) {
      const n = llamaParamName.block(l);
      const bqkv = cfg.qkvBias ? this.p(n.bqkv) : null;
      if (this.loraRank > 0) this.blocks.push({ ln1: this.p(n.ln1), Wqkv: null, bqkv, Wo: null, ln2: this.p(n.ln2), Wgu: null, Wd: null, lora: lora(n) });
      else this.blocks.push({ ln1: this.p(n.ln1), Wqkv: this.p(n.Wqkv), bqkv, Wo: this.p(n.Wo), ln2: this.p(n.ln2), Wgu: this.p(n.Wgu), Wd: this.p(n.Wd), lora: null });
    }
    // The task of the GPT runs.
    ({ ids: this.ids, targets: this.targets } = await this.countingTask(rand, cfg));
    await this.allocateWorkspace();
  }

  /** Forward of a projection: out = x·W (+ b), x in activation storage. */
  private project(enc: GPUCommandEncoder, lin: Linear, x: GPUBuffer, out: GPUBuffer, label: string): void {
    const w = this.weight(lin.W);
    recordMatmul(this.device, enc, {
      M: this.rows, N: lin.outF, K: lin.inF, a: x, aStorage: this.act, aTransposed: false, b: w.buf, bStorage: w.storage, bTransposed: false,
      out, outStorage: this.act, ...(lin.b ? { bias: lin.b.master } : {}), label,
    });
  }

  /**
   * Backward of a projection: gW = xᵀ·dY (and gb = Σ dY), then dX = dY·Wᵀ when dX is given.
   * dY and dX f32.
   */
  private projectBackward(enc: GPUCommandEncoder, lin: Linear, x: GPUBuffer, xStorage: Storage, dY: GPUBuffer, g: { W: GPUBuffer; b: GPUBuffer | null }, dX: GPUBuffer | null, label: string): void {
    const { device, rows } = this;
    recordMatmul(device, enc, { M: lin.inF, N: lin.outF, K: rows, a: x, aStorage: xStorage, aTransposed: true, b: dY, bStorage: 'f32', bTransposed: false, out: g.W, outStorage: 'f32', label: `${label}.dW` });
    if (g.b) recordColumnSum(device, enc, { x: dY, rows, cols: lin.outF, out: g.b });
    if (dX) {
      const w = this.weight(lin.W);
      recordMatmul(device, enc, { M: rows, N: lin.inF, K: lin.outF, a: dY, aStorage: 'f32', aTransposed: false, b: w.buf, bStorage: w.storage, bTransposed: true, out: dX, outStorage: 'f32', label: `${label}.dX` });
    }
  }

  /** The projections of a fully trained block. */
  private linears(blk: Block): Record<Projection, Linear> {
    const { dModel: d, heads, headDim, inner: I } = this.cfg;
    return {
      qkv: { W: blk.Wqkv!, b: blk.bqkv, inF: d, outF: this.qkvWidth },
      o: { W: blk.Wo!, b: null, inF: heads * headDim, outF: d },
      gu: { W: blk.Wgu!, b: null, inF: d, outF: 2 * I },
      down: { W: blk.Wd!, b: null, inF: I, outF: d },
    };
  }

  /** Forward of block projection k into out; under LoRA through its adapter, whose s·(x·A) goes into `xa`. */
  private async blockProject(enc: GPUCommandEncoder, blk: Block, k: Projection, x: GPUBuffer, out: GPUBuffer, label: string, xa: Partial<Saved>): Promise<void> {
    if (blk.lora) xa[XA_OF[k]] = await blk.lora[k].forward(this.loraContext, enc, { rows: this.rows, x, out });
    else this.project(enc, this.linears(blk)[k], x, out, label);
  }

  /** Backward of block projection k: its weight's (or under LoRA its adapters') gradients and dX. */
  private async blockProjectBackward(enc: GPUCommandEncoder, blk: Block, k: Projection, s: Saved, x: GPUBuffer, dY: GPUBuffer, g: Map<Param, GPUBuffer>, dX: GPUBuffer, label: string): Promise<void> {
    if (blk.lora) {
      const lin = blk.lora[k];
      await lin.backward(this.loraContext, enc, { rows: this.rows, dY, x, xa: s[XA_OF[k]]!, dX, gA: g.get(lin.A)!, gB: g.get(lin.B)! });
      return;
    }
    const lin = this.linears(blk)[k];
    this.projectBackward(enc, lin, x, this.act, dY, { W: g.get(lin.W)!, b: lin.b ? g.get(lin.b)! : null }, dX, label);
  }

  private get attnShape() {
    const { batch: B, seq: s, heads, kvHeads, headDim } = this.cfg;
    return { B, s, heads, kvHeads, headDim };
  }

  /**
   * Block l's forward from input x. With `output` false (the last block of a recomputed
   * segment) it stops after the SwiGLU: backward needs nothing after it.
   */
  private async blockForward(l: number, x: GPUBuffer, enc: GPUCommandEncoder, output: boolean): Promise<{ saved: Saved; x2: GPUBuffer | null }> {
    const { cfg, act, rows, device } = this;
    const u = this.unitOfBlock(l);
    const blk = this.blocks[l]!;
    const t = (name: string) => this.t(u, `h${l}.${name}`);
    const d = cfg.dModel;
    const y1 = await t('y1');
    const rstd1 = await t('ln1.rstd');
    recordRmsNorm(device, enc, { x, xStorage: act, rows, cols: d, gamma: blk.ln1.master, y: y1, yStorage: act, rstd: rstd1 });
    const raw = await t('qkv.raw');
    const xa: Partial<Saved> = {};
    await this.blockProject(enc, blk, 'qkv', y1, raw, `h${l}.qkv`, xa);
    const qkv = await t('qkv');
    recordRope(device, enc, { x: raw, xStorage: act, y: qkv, yStorage: act, rows, seq: cfg.seq, width: this.qkvWidth, rotCols: (cfg.heads + cfg.kvHeads) * cfg.headDim, headDim: cfg.headDim, theta: cfg.ropeTheta });
    this.ledger.release(raw);
    let attn: GPUBuffer;
    if (cfg.attention === 'eager') {
      attn = await t('attn.probs');
      const out = await t('attn.out');
      recordAttentionEager(device, enc, { ...this.attnShape, qkv, qkvStorage: act, probs: attn, probsStorage: act, out, outStorage: act });
      return this.blockRest(l, x, enc, output, { y1, rstd1, qkv, attn, out, ...xa });
    }
    attn = await t('attn.lse');
    const out = await t('attn.out');
    recordAttentionFused(device, enc, { ...this.attnShape, qkv, qkvStorage: act, out, outStorage: act, lse: attn });
    return this.blockRest(l, x, enc, output, { y1, rstd1, qkv, attn, out, ...xa });
  }

  private async blockRest(l: number, x: GPUBuffer, enc: GPUCommandEncoder, output: boolean, s: Pick<Saved, 'y1' | 'rstd1' | 'qkv' | 'attn' | 'out' | 'xaQkv'>): Promise<{ saved: Saved; x2: GPUBuffer | null }> {
    const { cfg, act, rows, device } = this;
    const u = this.unitOfBlock(l);
    const blk = this.blocks[l]!;
    const t = (name: string) => this.t(u, `h${l}.${name}`);
    const d = cfg.dModel;
    const xa: Partial<Saved> = {};
    const proj = await t('attn.proj');
    await this.blockProject(enc, blk, 'o', s.out, proj, `h${l}.o`, xa);
    const x1 = await t('x1');
    recordAdd(device, enc, { a: x, aStorage: act, b: proj, bStorage: act, out: x1, outStorage: act, n: rows * d });
    this.ledger.release(proj);
    const y2 = await t('y2');
    const rstd2 = await t('ln2.rstd');
    recordRmsNorm(device, enc, { x: x1, xStorage: act, rows, cols: d, gamma: blk.ln2.master, y: y2, yStorage: act, rstd: rstd2 });
    const gu = await t('mlp.gu');
    await this.blockProject(enc, blk, 'gu', y2, gu, `h${l}.gu`, xa);
    const a = await t('mlp.act');
    recordSwiglu(device, enc, { gu, guStorage: act, act: a, actStorage: act, rows, inner: cfg.inner });
    const saved: Saved = { ...s, x1, y2, rstd2, gu, act: a, ...xa };
    if (!output) {
      // LoRA: Wd's backward still needs its s·(x·A).
      if (blk.lora) saved.xaDown = await blk.lora.down.forward(this.loraContext, enc, { rows, x: a, out: a, product: false });
      return { saved, x2: null };
    }
    const m = await t('mlp.out');
    await this.blockProject(enc, blk, 'down', a, m, `h${l}.down`, saved);
    const x2 = await t('x2');
    recordAdd(device, enc, { a: x1, aStorage: act, b: m, bStorage: act, out: x2, outStorage: act, n: rows * d });
    this.ledger.release(m);
    return { saved, x2 };
  }

  /** An RMSNorm gain's gradient, when it trains (not under LoRA). */
  private gainGrad(g: Map<Param, GPUBuffer>, gain: Param): { dGamma?: GPUBuffer } {
    const dGamma = g.get(gain);
    return dGamma ? { dGamma } : {};
  }

  async step(rec: StepRecording, inspect?: GradInspector): Promise<void> {
    const { cfg, device, ledger, act, rows } = this;
    const { vocab: V, dModel: d, layers: L, seq: S } = cfg;
    const head = this.headUnit;
    const embed = this.p(llamaParamName.embed);
    const norm = this.p(llamaParamName.norm);
    const lmHead = cfg.tied ? null : this.p(llamaParamName.lmHead);
    this.beginStep(rec);

    let body!: DecoderBody<Saved>;
    let xL!: GPUBuffer;
    let yf!: GPUBuffer;
    let rstdf!: GPUBuffer;
    let logits!: GPUBuffer;
    await rec.phase('forward', async () => {
      this.begin(ENGINE_OP.forwardEmbeddings);
      const x = await this.t(this.desc.units[0]!, 'x0');
      recordEmbedding(device, rec.encoder, { ids: this.ids, rows, seq: S, dim: d, vocab: V, tokenTable: embed.master, posTable: null, out: x, outStorage: act });
      body = await this.forwardBlocks(x, L, this.selective, (l, x, output) => this.blockForward(l, x, rec.encoder, output));
      this.begin(ENGINE_OP.forwardHead);
      xL = body.out;
      yf = await this.t(head, 'lnf.y');
      rstdf = await this.t(head, 'lnf.rstd');
      recordRmsNorm(device, rec.encoder, { x: xL, xStorage: act, rows, cols: d, gamma: norm.master, y: yf, yStorage: act, rstd: rstdf });
      logits = await this.t(head, 'logits');
      // Tied: yf·embedᵀ (the table is V×d); untied: yf·lm_head (d×V as stored).
      const w = this.weight(lmHead ?? embed);
      recordMatmul(device, rec.encoder, { M: rows, N: V, K: d, a: yf, aStorage: act, aTransposed: false, b: w.buf, bStorage: w.storage, bTransposed: lmHead === null, out: logits, outStorage: act, label: 'lm_head' });
    });

    const { inputs, saved } = body;
    const grads: Grad[] = [];
    let dX!: GPUBuffer;
    await rec.phase('backward', async () => {
      this.begin(ENGINE_OP.lossAndHeadBackward);
      const enc = rec.encoder;
      const g = new Map<Param, GPUBuffer>();
      for (const p of head.grads) g.set(this.p(p.name), await this.grad(grads, this.p(p.name)));
      const dLogits = await this.t(head, 'dLogits');
      recordCrossEntropy(device, enc, { logits, logitsStorage: act, targets: this.targets, rows, vocab: V, loss: this.loss, dLogits, lossScale: this.lossState });
      const dYf = await this.t(head, 'lnf.dy');
      if (this.loraRank > 0) {
        // Frozen head: dYf = dLogits·lm_headᵀ (untied, d×V as stored) or dLogits·embed (tied, V×d).
        const w = this.weight(lmHead ?? embed);
        recordMatmul(device, enc, { M: rows, N: d, K: V, a: dLogits, aStorage: 'f32', aTransposed: false, b: w.buf, bStorage: w.storage, bTransposed: lmHead !== null, out: dYf, outStorage: 'f32', label: 'lm_head.dX' });
      } else if (lmHead) {
        this.projectBackward(enc, { W: lmHead, b: null, inF: d, outF: V }, yf, act, dLogits, { W: g.get(lmHead)!, b: null }, dYf, 'lm_head');
      } else {
        // gEmbed = dLogitsᵀ·yf (V×d); dYf = dLogits·embed.
        recordMatmul(device, enc, { M: V, N: d, K: rows, a: dLogits, aStorage: 'f32', aTransposed: true, b: yf, bStorage: act, bTransposed: false, out: g.get(embed)!, outStorage: 'f32', label: 'lm_head.dW' });
        const w = this.weight(embed);
        recordMatmul(device, enc, { M: rows, N: d, K: V, a: dLogits, aStorage: 'f32', aTransposed: false, b: w.buf, bStorage: w.storage, bTransposed: false, out: dYf, outStorage: 'f32', label: 'lm_head.dX' });
      }
      dX = await this.t(head, 'lnf.dx');
      recordRmsNormBackward(device, enc, { dy: dYf, x: xL, xStorage: act, gamma: norm.master, rstd: rstdf, rows, cols: d, dx: dX, ...this.gainGrad(g, norm) });
      for (const b of [dLogits, logits, dYf, yf, rstdf, xL]) ledger.release(b);
    });

    for (let l = L - 1; l >= 0; l--) {
      if (saved[l] === null) await rec.phase('recompute', () => this.recomputeSegment(l, body, (j, x, output) => this.blockForward(j, x, rec.encoder, output)));
      if (this.selective) {
        await rec.phase('recompute', async () => {
          this.begin(ENGINE_OP.recomputeAttention(l));
          const s = saved[l]!;
          s.attn = await this.t(this.unitOfBlock(l), `h${l}.attn.probs`);
          recordAttentionEager(device, rec.encoder, { ...this.attnShape, qkv: s.qkv, qkvStorage: act, probs: s.attn!, probsStorage: act, out: s.out, outStorage: act });
        });
      }
      await rec.phase('backward', async () => {
        this.begin(ENGINE_OP.backwardBlock(l));
        dX = await this.blockBackward(l, saved[l]!, inputs[l]!, dX, grads, rec.encoder);
        saved[l] = null;
      });
    }

    await rec.phase('backward', async () => {
      this.begin(ENGINE_OP.backwardEmbeddings);
      if (this.loraRank > 0) {
        // Frozen embedding: block 0's input gradient ends here.
        ledger.release(dX);
        return;
      }
      // Tied: the embedding's gradient holds the LM head's part already; add the lookup's.
      const tied = grads.find((x) => x.param === embed);
      const gEmbed = tied ? tied.buffer : await this.grad(grads, embed);
      recordEmbeddingBackward(device, rec.encoder, { ids: this.ids, rows, seq: S, dim: d, vocab: V, dOut: dX, dToken: gEmbed, accumulateToken: tied !== undefined, dPos: null, maxPos: S });
      ledger.release(dX);
    });

    await this.finishStep(rec, grads, inspect);
  }

  /** Block l's backward from the incoming dX2; returns dX (its input's gradient) and frees the rest. */
  private async blockBackward(l: number, s: Saved, x: GPUBuffer, dX2: GPUBuffer, grads: Grad[], enc: GPUCommandEncoder): Promise<GPUBuffer> {
    const { cfg, device, ledger, act, rows } = this;
    const u = this.unitOfBlock(l);
    const blk = this.blocks[l]!;
    const t = (name: string) => this.t(u, `h${l}.${name}`);
    const d = cfg.dModel;
    const g = new Map<Param, GPUBuffer>();
    for (const p of u.grads) g.set(this.p(p.name), await this.grad(grads, this.p(p.name)));
    // MLP: dAct = dX2·Wdᵀ, gWd = actᵀ·dX2; dGu = SwiGLU'(gu, dAct); gWgu = y2ᵀ·dGu, dY2 = dGu·Wguᵀ.
    const dAct = await t('mlp.dAct');
    await this.blockProjectBackward(enc, blk, 'down', s, s.act, dX2, g, dAct, `h${l}.down`);
    const dGu = await t('mlp.dGu');
    recordSwigluBackward(device, enc, { gu: s.gu, guStorage: act, dAct, dGu, rows, inner: cfg.inner });
    ledger.release(dAct);
    const dY2 = await t('ln2.dy');
    await this.blockProjectBackward(enc, blk, 'gu', s, s.y2, dGu, g, dY2, `h${l}.gu`);
    ledger.release(dGu);
    // RMSNorm 2 and the residual: dX1 = RMS2ᵀ(dY2) + dX2.
    const dX1 = await t('dx1');
    recordRmsNormBackward(device, enc, { dy: dY2, x: s.x1, xStorage: act, gamma: blk.ln2.master, rstd: s.rstd2, rows, cols: d, dx: dX1, ...this.gainGrad(g, blk.ln2) });
    recordAccumulate(device, enc, { x: dX2, into: dX1, n: rows * d });
    ledger.release(dY2);
    ledger.release(dX2);
    // Attention: dOut = dX1·Woᵀ, gWo = outᵀ·dX1; the attention's backward; the rotation undone.
    const dOut = await t('attn.dOut');
    await this.blockProjectBackward(enc, blk, 'o', s, s.out, dX1, g, dOut, `h${l}.o`);
    const dQkv = await t('attn.dQkv');
    if (cfg.attention === 'eager') {
      recordAttentionEagerBackward(device, enc, { ...this.attnShape, qkv: s.qkv, qkvStorage: act, probs: s.attn!, probsStorage: act, dOut, dQkv });
    } else {
      recordAttentionFusedBackward(device, enc, { ...this.attnShape, qkv: s.qkv, qkvStorage: act, out: s.out, outStorage: act, lse: s.attn!, dOut, dQkv });
    }
    ledger.release(dOut);
    const dRaw = await t('attn.dQkvRaw');
    recordRope(device, enc, { x: dQkv, xStorage: 'f32', y: dRaw, yStorage: 'f32', rows, seq: cfg.seq, width: this.qkvWidth, rotCols: (cfg.heads + cfg.kvHeads) * cfg.headDim, headDim: cfg.headDim, theta: cfg.ropeTheta, inverse: true });
    ledger.release(dQkv);
    const dY1 = await t('ln1.dy');
    await this.blockProjectBackward(enc, blk, 'qkv', s, s.y1, dRaw, g, dY1, `h${l}.qkv`);
    ledger.release(dRaw);
    // RMSNorm 1 and the residual: dX = RMS1ᵀ(dY1) + dX1.
    const dXin = await t('dx');
    recordRmsNormBackward(device, enc, { dy: dY1, x, xStorage: act, gamma: blk.ln1.master, rstd: s.rstd1, rows, cols: d, dx: dXin, ...this.gainGrad(g, blk.ln1) });
    recordAccumulate(device, enc, { x: dX1, into: dXin, n: rows * d });
    ledger.release(dY1);
    ledger.release(dX1);
    this.releaseSaved(s);
    ledger.release(x);
    return dXin;
  }
}
