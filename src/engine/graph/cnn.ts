/**
 * The engine's CNNs on the GPU (cnn-mnist, cnn-cifar): a trainer that executes the step
 * program of src/estimate/cnn.ts command by command. That file is the one description of the
 * model (its layers, tensors, parameters and the step's allocations and frees); the planner's
 * framework-vramlab estimate walks the same program, so estimate and ledger agree by
 * construction. Here each node becomes its kernels (kernels/conv.ts, batchnorm.ts, relu.ts,
 * pool.ts, matmul.ts, crossentropy.ts), NCHW; linear weights are stored in×out (x·W).
 *
 * The task: a seeded synthetic classification set of `batch` images, one per sample, with
 * label i mod classes: each class has a random prototype image and a sample is half its
 * prototype and half uniform noise. The same batch every step, so the loss falls as the model
 * learns it.
 */
import { recordBatchNorm, recordBatchNormBackward } from '../kernels/batchnorm.ts';
import { recordConv, recordConvBackwardInput, recordConvBackwardWeight } from '../kernels/conv.ts';
import { recordCrossEntropy } from '../kernels/crossentropy.ts';
import { recordMatmul } from '../kernels/matmul.ts';
import { recordAvgPool, recordAvgPoolBackward, recordMaxPool, recordMaxPoolBackward } from '../kernels/pool.ts';
import { recordColumnSum } from '../kernels/reduce.ts';
import { recordRelu, recordReluBackward } from '../kernels/relu.ts';
import { packHalf } from '../kernels/storage.ts';
import type { Ledger } from '../ledger.ts';
import type { StepRecording } from '../profiler.ts';
import { mulberry32, uniform } from '../rng.ts';
import { CNN_IMAGES, type CnnCommand, type CnnLayout, cnnLayout, cnnSpecOf } from '../../estimate/cnn.ts';
import { planConfigOfCnn, type CnnRunConfig } from '../../protocol/cnn.ts';
import { type Grad, type GradInspector, type Param, Trainer } from './trainer.ts';

export class CnnTrainer extends Trainer {
  readonly cfg: CnnRunConfig;
  readonly layout: CnnLayout;
  private readonly P: Param[] = [];
  private readonly running: GPUBuffer[] = [];
  private targets!: GPUBuffer;
  /** Live activation tensors and activation gradients of the step, by tensor id. */
  private readonly tensors = new Map<number, GPUBuffer>();
  private readonly grads = new Map<number, GPUBuffer>();
  private readonly paramGrads = new Map<number, GPUBuffer>();

  private constructor(device: GPUDevice, ledger: Ledger, cfg: CnnRunConfig, lr: number, layout: CnnLayout) {
    const blocks = layout.graph.units.filter((u) => u.recomputable).length;
    super(device, ledger, { precision: cfg.precision, optimizer: cfg.optimizer, checkpoint: cfg.checkpoint, lr, blocks });
    this.cfg = cfg;
    this.layout = layout;
  }

  /** Allocates and initialises parameters, running statistics and the task; frees all on failure. */
  static async create(device: GPUDevice, ledger: Ledger, cfg: CnnRunConfig, lr: number): Promise<CnnTrainer> {
    const pc = planConfigOfCnn(cfg);
    const spec = cnnSpecOf(cfg.model, pc);
    if (!spec) throw new Error(`CnnTrainer: unknown model '${cfg.model}'`);
    const t = new CnnTrainer(device, ledger, cfg, lr, cnnLayout(spec, pc));
    try {
      await t.allocate();
    } catch (e) {
      ledger.dispose();
      throw e;
    }
    return t;
  }

  /** The ledger ops' segments of one step (forward, recompute and backward runs, the optimizer). */
  get phaseSegments(): number {
    let n = 1;
    let last = '';
    for (const c of this.layout.program) {
      if (c.k === 'op' && c.phase !== last) {
        n++;
        last = c.phase;
      }
    }
    return n;
  }

  private async allocate(): Promise<void> {
    const { graph } = this.layout;
    const rand = mulberry32(this.cfg.seed);
    this.ledger.setOp(-1, 'setup');
    for (const p of graph.params) {
      const init = p.init.kind === 'uniform' ? ((b: number) => (n: number) => uniform(rand, n, b))(1 / Math.sqrt(p.init.fanIn)) : (n: number) => Float32Array.from({ length: n }, (_, i) => (i < n / 2 ? 1 : 0));
      this.P.push(await this.param(p.name, p.n, init, p.matmul));
    }
    for (const r of graph.running) {
      const b = await this.buffer(r.name, 'weights', 8 * r.C);
      this.device.queue.writeBuffer(b, 0, Float32Array.from({ length: 2 * r.C }, (_, i) => (i < r.C ? 0 : 1)));
      this.running.push(b);
    }
    const { spec, batch } = graph;
    const per = spec.inChannels * spec.imageSize * spec.imageSize;
    const protos = uniform(rand, spec.classes * per, 1);
    const noise = uniform(rand, batch * per, 1);
    const xs = new Float32Array(batch * per);
    const labels = new Uint32Array(batch);
    for (let i = 0; i < batch; i++) {
      labels[i] = i % spec.classes;
      for (let j = 0; j < per; j++) xs[i * per + j] = 0.5 * protos[labels[i]! * per + j]! + 0.5 * noise[i * per + j]!;
    }
    const images = await this.buffer('images', 'inputs', this.layout.tensorBytes(CNN_IMAGES));
    this.device.queue.writeBuffer(images, 0, this.act === 'f32' ? xs : packHalf(xs, this.act));
    this.tensors.set(CNN_IMAGES, images);
    this.targets = await this.buffer('targets', 'inputs', 4 * batch);
    this.device.queue.writeBuffer(this.targets, 0, labels);
    await this.allocateWorkspace();
  }

  /** One training step: the program's commands, op by op, then the optimizer. */
  async step(rec: StepRecording, inspect?: GradInspector): Promise<void> {
    this.beginStep(rec);
    const grads: Grad[] = [];
    const prog = this.layout.program;
    let i = 0;
    while (i < prog.length) {
      const phase = (prog[i] as Extract<CnnCommand, { k: 'op' }>).phase;
      let j = i;
      while (j < prog.length && !(prog[j]!.k === 'op' && (prog[j] as Extract<CnnCommand, { k: 'op' }>).phase !== phase)) j++;
      const cmds = prog.slice(i, j);
      await rec.phase(phase, async () => {
        for (const c of cmds) await this.exec(c, rec.encoder, grads);
      });
      i = j;
    }
    this.paramGrads.clear();
    await this.finishStep(rec, grads, inspect);
  }

  private t(id: number): GPUBuffer {
    const b = this.tensors.get(id);
    if (!b) throw new Error(`CnnTrainer: tensor '${this.layout.graph.tensors[id]!.name}' is not live`);
    return b;
  }

  private g(id: number): GPUBuffer {
    const b = this.grads.get(id);
    if (!b) throw new Error(`CnnTrainer: the gradient of '${this.layout.graph.tensors[id]!.name}' is not live`);
    return b;
  }

  private async exec(c: CnnCommand, enc: GPUCommandEncoder, grads: Grad[]): Promise<void> {
    const { graph } = this.layout;
    switch (c.k) {
      case 'op':
        this.begin(c.label);
        return;
      case 'alloc':
        this.tensors.set(c.t, await this.buffer(graph.tensors[c.t]!.name, 'activations', this.layout.tensorBytes(c.t)));
        return;
      case 'free':
        this.ledger.release(this.t(c.t));
        this.tensors.delete(c.t);
        return;
      case 'allocGrad':
        this.grads.set(c.t, await this.buffer(`${graph.tensors[c.t]!.name}.grad`, 'activation-grads', this.layout.gradBytes(c.t)));
        return;
      case 'freeGrad':
        this.ledger.release(this.g(c.t));
        this.grads.delete(c.t);
        return;
      case 'paramGrad':
        this.paramGrads.set(c.p, await this.grad(grads, this.P[c.p]!));
        return;
      case 'forward':
        this.forward(c.node, c.updateRunning, enc);
        return;
      case 'backward':
        this.backward(c.node, c.accumulate, enc);
        return;
    }
  }

  private storageOf(t: number) {
    return this.layout.graph.tensors[t]!.storage === 'f32' ? ('f32' as const) : this.act;
  }

  private forward(i: number, updateRunning: boolean, enc: GPUCommandEncoder): void {
    const n = this.layout.graph.nodes[i]!;
    const d = this.device;
    const a = this.act;
    switch (n.op) {
      case 'conv': {
        const w = this.weight(this.P[n.w]!);
        recordConv(d, enc, { ...n.g, x: this.t(n.x), xStorage: a, w: w.buf, wStorage: w.storage, y: this.t(n.y), yStorage: a, ...(n.b !== null ? { bias: this.P[n.b]!.master } : {}), label: n.name });
        return;
      }
      case 'bn':
        recordBatchNorm(d, enc, {
          N: n.N, C: n.C, HW: n.HW,
          x: this.t(n.x), xStorage: a, affine: this.P[n.affine]!.master, stats: this.t(n.stats), running: this.running[n.running]!, updateRunning,
          y: this.t(n.y), yStorage: a, relu: n.relu,
          ...(n.residual !== null ? { residual: { buffer: this.t(n.residual), storage: this.storageOf(n.residual) } } : {}),
          label: n.name,
        });
        return;
      case 'relu':
        recordRelu(d, enc, { n: n.n, x: this.t(n.x), xStorage: a, y: this.t(n.y), yStorage: a, label: n.name });
        return;
      case 'maxpool':
        recordMaxPool(d, enc, { N: n.N, C: n.C, H: n.H, W: n.W, x: this.t(n.x), xStorage: a, y: this.t(n.y), yStorage: a, label: n.name });
        return;
      case 'gap':
        recordAvgPool(d, enc, { N: n.N, C: n.C, H: n.H, W: n.W, x: this.t(n.x), xStorage: a, y: this.t(n.y), yStorage: a, label: n.name });
        return;
      case 'linear': {
        const w = this.weight(this.P[n.w]!);
        recordMatmul(d, enc, {
          M: n.rows, N: n.outF, K: n.inF,
          a: this.t(n.x), aStorage: a, aTransposed: false,
          b: w.buf, bStorage: w.storage, bTransposed: false,
          out: this.t(n.y), outStorage: a, bias: this.P[n.b]!.master, label: n.name,
        });
        return;
      }
      case 'loss':
        return;
    }
  }

  private backward(i: number, accumulate: number[], enc: GPUCommandEncoder): void {
    const n = this.layout.graph.nodes[i]!;
    const d = this.device;
    const a = this.act;
    const pg = (p: number) => this.paramGrads.get(p)!;
    if (accumulate.length > 0 && n.op !== 'conv') throw new Error(`CnnTrainer: ${n.name} cannot add into an existing gradient`);
    switch (n.op) {
      case 'conv': {
        recordConvBackwardWeight(d, enc, { ...n.g, dy: this.g(n.y), x: this.t(n.x), xStorage: a, dw: pg(n.w), ...(n.b !== null ? { db: pg(n.b) } : {}), label: `${n.name}.dw` });
        if (n.x !== CNN_IMAGES) {
          const w = this.weight(this.P[n.w]!);
          recordConvBackwardInput(d, enc, { ...n.g, dy: this.g(n.y), w: w.buf, wStorage: w.storage, dx: this.g(n.x), accumulate: accumulate.includes(n.x), label: `${n.name}.dx` });
        }
        return;
      }
      case 'bn':
        recordBatchNormBackward(d, enc, {
          N: n.N, C: n.C, HW: n.HW,
          x: this.t(n.x), xStorage: a, affine: this.P[n.affine]!.master, stats: this.t(n.stats), dy: this.g(n.y),
          ...(n.relu ? { relu: { y: this.t(n.y), yStorage: a } } : {}),
          dx: this.g(n.x), daffine: pg(n.affine),
          ...(n.residual !== null ? { dres: this.g(n.residual) } : {}),
          label: `${n.name}.backward`,
        });
        return;
      case 'relu':
        recordReluBackward(d, enc, { n: n.n, y: this.t(n.y), yStorage: a, dy: this.g(n.y), dx: this.g(n.x), label: `${n.name}.backward` });
        return;
      case 'maxpool':
        recordMaxPoolBackward(d, enc, { N: n.N, C: n.C, H: n.H, W: n.W, x: this.t(n.x), xStorage: a, dy: this.g(n.y), dx: this.g(n.x), label: `${n.name}.backward` });
        return;
      case 'gap':
        recordAvgPoolBackward(d, enc, { N: n.N, C: n.C, H: n.H, W: n.W, dy: this.g(n.y), dx: this.g(n.x), label: `${n.name}.backward` });
        return;
      case 'linear': {
        const dy = this.g(n.y);
        recordMatmul(d, enc, { M: n.inF, N: n.outF, K: n.rows, a: this.t(n.x), aStorage: a, aTransposed: true, b: dy, bStorage: 'f32', bTransposed: false, out: pg(n.w), outStorage: 'f32', label: `${n.name}.dW` });
        recordColumnSum(d, enc, { x: dy, rows: n.rows, cols: n.outF, out: pg(n.b) });
        if (n.x !== CNN_IMAGES) {
          const w = this.weight(this.P[n.w]!);
          recordMatmul(d, enc, { M: n.rows, N: n.inF, K: n.outF, a: dy, aStorage: 'f32', aTransposed: false, b: w.buf, bStorage: w.storage, bTransposed: true, out: this.g(n.x), outStorage: 'f32', label: `${n.name}.dX` });
        }
        return;
      }
      case 'loss':
        recordCrossEntropy(d, enc, { logits: this.t(n.logits), logitsStorage: a, targets: this.targets, rows: n.rows, vocab: n.classes, loss: this.loss, dLogits: this.g(n.logits), lossScale: this.lossState });
        return;
    }
  }

  /** The model's running statistics (tests): [mean, var] per BatchNorm. */
  runningBuffers(): { name: string; buffer: GPUBuffer; n: number }[] {
    return this.layout.graph.running.map((r, i) => ({ name: r.name, buffer: this.running[i]!, n: 2 * r.C }));
  }
}
