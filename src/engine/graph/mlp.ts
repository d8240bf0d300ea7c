/**
 * The `mlp` model on the GPU: L blocks of Linear(d→hidden)+bias, activation,
 * Linear(hidden→d)+bias; loss = mean of squares of the last output. Every parameter and tensor
 * comes from the model description (src/estimate/vramlab-mlp.ts) by name, with the bytes it
 * gives: the planner's framework-vramlab estimate reads the same description.
 *
 * Row-major layouts: x, block outputs B×d; pre, act B×hidden; W1 d×hidden (in × out), so the
 * forward is x·W1 with no transpose; W2 hidden×d.
 */
import { recordMseLoss } from '../kernels/loss.ts';
import { recordMatmul } from '../kernels/matmul.ts';
import { recordColumnSum } from '../kernels/reduce.ts';
import { packHalf } from '../kernels/storage.ts';
import type { Ledger } from '../ledger.ts';
import type { StepRecording } from '../profiler.ts';
import { mulberry32, uniform } from '../rng.ts';
import { DEFAULT_LR, type RunConfig } from '../../protocol/run.ts';
import type { ModelDescription, UnitDesc } from '../../estimate/describe.ts';
import { mlpDescriptionOfRun, mlpOutputName, mlpParamName } from '../../estimate/vramlab-mlp.ts';
import { ENGINE_OP } from '../../estimate/vramlab.ts';
import { DescribedTrainer } from './described.ts';
import type { Grad, GradInspector, Param } from './trainer.ts';

export type { GradInspector } from './trainer.ts';

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

export class MlpTrainer extends DescribedTrainer {
  readonly cfg: RunConfig;
  readonly desc: ModelDescription;
  private readonly blocks: Block[] = [];
  private x!: GPUBuffer;

  private constructor(device: GPUDevice, ledger: Ledger, cfg: RunConfig) {
    super(device, ledger, { precision: cfg.precision, optimizer: cfg.optimizer, checkpoint: cfg.checkpoint, lr: cfg.lr ?? DEFAULT_LR[cfg.optimizer], blocks: cfg.layers });
    this.cfg = cfg;
    this.desc = mlpDescriptionOfRun(cfg);
  }

  private unit(l: number): UnitDesc {
    return this.desc.units[l]!;
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

  private async allocate(): Promise<void> {
    const { cfg, device } = this;
    const rand = mulberry32(cfg.seed);
    this.ledger.setOp(-1, 'setup');
    await this.allocateParams(rand);
    for (let l = 0; l < cfg.layers; l++) {
      const n = mlpParamName(l);
      this.blocks.push({ W1: this.p(n.W1), b1: this.p(n.b1), W2: this.p(n.W2), b2: this.p(n.b2) });
    }
    this.x = await this.buffer('x', 'inputs', this.desc.inputBytes);
    const xs = uniform(rand, cfg.batch * cfg.d, 1);
    device.queue.writeBuffer(this.x, 0, this.act === 'f32' ? xs : packHalf(xs, this.act));
    await this.allocateWorkspace();
  }

  /** pre = in·W1 + b1, act = f(pre): the block's first matmul with its fused epilogue. */
  private async firstMatmul(l: number, input: GPUBuffer, enc: GPUCommandEncoder, tag: string): Promise<Saved> {
    const { batch: B, d, hidden } = this.cfg;
    const blk = this.blocks[l]!;
    const pre = await this.t(this.unit(l), `block${l}.pre`, tag);
    const act = await this.t(this.unit(l), `block${l}.act`, tag);
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
    const out = await this.t(this.unit(l), mlpOutputName(l), tag);
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
  async step(rec: StepRecording, inspect?: GradInspector): Promise<void> {
    const { cfg, ledger, device } = this;
    const L = cfg.layers;
    const { batch: B, d, hidden } = cfg;
    this.beginStep(rec);
    const begin = (label: string) => this.begin(label);
    const { dropped, keepsInput, segmentOf } = this.plan;

    // Forward. inputs[l] is block l's input (x for block 0), kept or released per checkpointing.
    const inputs: (GPUBuffer | null)[] = new Array(L).fill(null);
    const saved: Saved[] = Array.from({ length: L }, () => ({ pre: null, act: null }));
    let lastOut!: GPUBuffer;
    await rec.phase('forward', async () => {
      let input = this.x;
      for (let l = 0; l < L; l++) {
        begin(ENGINE_OP.forwardBlock(l));
        const s = await this.firstMatmul(l, input, rec.encoder, '');
        const out = await this.secondMatmul(l, s.act!, rec.encoder, '');
        if (dropped[l]) {
          ledger.release(s.pre!);
          ledger.release(s.act!);
          if (l > 0 && !keepsInput[l]) ledger.release(input);
        } else {
          saved[l] = s;
        }
        inputs[l] = l === 0 ? null : dropped[l] && !keepsInput[l] ? null : input;
        input = out;
      }
      lastOut = input;
    });

    // Loss and its gradient; the loss keeps the last output until here.
    let dOut!: GPUBuffer;
    await rec.phase('backward', async () => {
      begin(ENGINE_OP.loss);
      dOut = await this.t(this.unit(L), 'loss.dOut');
      recordMseLoss(device, rec.encoder, { y: lastOut, yStorage: this.act, n: B * d, loss: this.loss, dy: dOut, lossScale: this.lossState });
      ledger.release(lastOut);
    });

    const grads: Grad[] = [];
    for (let l = L - 1; l >= 0; l--) {
      if (dropped[l] && saved[l]!.pre === null) {
        await rec.phase('recompute', async () => {
          // Re-run the forward of l's segment from its kept input; outputs inside the segment
          // become the inputs of the blocks after them.
          const seg = segmentOf[l]!;
          let input = seg[0] === 0 ? this.x : inputs[seg[0]!]!;
          for (const j of seg) {
            begin(ENGINE_OP.recomputeBlock(j));
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
        begin(ENGINE_OP.backwardBlock(l));
        const blk = this.blocks[l]!;
        const s = saved[l]!;
        const input = l === 0 ? this.x : inputs[l]!;
        const g = (p: Param) => this.grad(grads, p);
        const gW1 = await g(blk.W1);
        const gb1 = await g(blk.b1);
        const gW2 = await g(blk.W2);
        const gb2 = await g(blk.b2);
        const dPre = await this.t(this.unit(l), `block${l}.dPre`);
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
          dIn = await this.t(this.unit(l), `block${l}.dIn`);
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

    await this.finishStep(rec, grads, inspect);
  }
}
