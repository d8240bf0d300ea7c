/**
 * What every model trainer shares: parameters with their fp32 master, 16-bit copy and
 * optimizer states; the workspace buffers (hyper-parameters, loss-scale state, loss); the
 * optimizer phase with dynamic loss scaling; the checkpointing plan; readbacks between steps.
 * The models (mlp.ts, gpt.ts) own their activations and the order of their kernels.
 */
import { bufferRange } from '../arena.ts';
import { recordCast } from '../kernels/cast.ts';
import { LOSS_STATE_BYTES, recordCheckFinite, recordOptimizerStep, recordUpdateLossScale, writeHyper } from '../kernels/optimizer.ts';
import { type Storage, storageBytes } from '../kernels/storage.ts';
import type { Ledger, LedgerCreateOptions } from '../ledger.ts';
import { DryRecorder } from '../dry.ts';
import { collectPipelines, type PipelineCreation } from '../kernels/storage.ts';
import { isPatient } from '../gpu-wait.ts';
import type { StepRecording } from '../profiler.ts';
import { ParamArena, type ArenaTensor } from './param-arena.ts';
import { countReadback, endOpenPass } from '../work.ts';
import { checkpointPlan } from '../../estimate/schedule.ts';
import { ENGINE_OP, ENGINE_WORKSPACE } from '../../estimate/vramlab.ts';
import type { RunConfig } from '../../protocol/run.ts';
import type { OptimizerLaunch } from '../../estimate/vramlab-work.ts';

// GPUBufferUsage is read lazily: in Node the `webgpu` globals are installed after imports run.
export const tensorUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const readbackUsage = () => GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;

/** PyTorch GradScaler defaults: initial scale 2^16, doubled after 2000 clean steps. */
const FP16_INIT_SCALE = 65536;
/**
 * Loss readback buffers: step s copies its loss into slot s mod LOSS_RING, and the host maps
 * it while the next step is recorded (requestLoss, takeLoss), so no step waits on a readback
 * of its own. Two suffice when each loss is taken before the step after next is submitted.
 */
export const LOSS_RING = 2;
const GROWTH_INTERVAL = 2000;

export interface Param {
  name: string;
  n: number;
  /** Its place in the parameter arena (trainable parameters); null for a frozen one. */
  arena: ArenaTensor | null;
  master: GPUBuffer;
  /** 16-bit copy read by the matmuls under amp (matmul weights only; the rest stay f32). */
  half: GPUBuffer | null;
  m: GPUBuffer | null;
  v: GPUBuffer | null;
}

export interface Grad {
  name: string;
  buffer: GPUBuffer;
  n: number;
  param: Param;
}

export { checkpointPlan };

export type GradInspector = (grads: { name: string; buffer: GPUBuffer; n: number }[]) => Promise<void>;

/** How a new tensor's first writer treats it: 'accumulates' needs it to start at zero. */
export type FirstWrite = 'overwrites' | 'accumulates';

export type Precision = RunConfig['precision'];
export type OptimizerKind = RunConfig['optimizer'];

/**
 * How the optimizer phase is launched: 'fused', one dispatch over all trainable parameters
 * (per arena chunk) that also refreshes the 16-bit copies, one finiteness check over all
 * gradients; 'per-tensor', one update dispatch per tensor, a check per gradient and a cast per
 * 16-bit copy, as the engine did before the arenas (kept to compare: `vramlab bench --ab`,
 * and VRAMLAB_OPTIMIZER=per-tensor for `run` and `bench`). Same results either way.
 */
export const OPTIMIZER_LAUNCHES = ['fused', 'per-tensor'] as const satisfies readonly OptimizerLaunch[];
export type { OptimizerLaunch };

// Per device, so a benchmark can alternate the two on one device (never a module global).
const launches = new WeakMap<GPUDevice, OptimizerLaunch>();

/** Sets how trainers created on `device` from now on launch their optimizer (default 'fused'). */
export function setOptimizerLaunch(device: GPUDevice, launch: OptimizerLaunch): void {
  if (!OPTIMIZER_LAUNCHES.includes(launch)) throw new TypeError(`optimizer launch must be one of ${OPTIMIZER_LAUNCHES.join(', ')}, got '${String(launch)}'`);
  launches.set(device, launch);
}

export function optimizerLaunch(device: GPUDevice): OptimizerLaunch {
  return launches.get(device) ?? 'fused';
}

export interface TrainerOptions {
  precision: Precision;
  optimizer: OptimizerKind;
  /** selective drops nothing here: the model recomputes its attention core itself. */
  checkpoint: 'none' | 'full' | 'selective' | 'sqrt';
  lr: number;
  /** Units (blocks) the checkpointing plan covers. */
  blocks: number;
}

export abstract class Trainer {
  protected readonly device: GPUDevice;
  protected readonly ledger: Ledger;
  protected readonly opts: TrainerOptions;
  /** Storage of activations (and inputs): f32, or packed 16-bit under amp. */
  protected readonly act: Storage;
  protected readonly params_: Param[] = [];
  private readonly frozen_: { name: string; buffer: GPUBuffer; bytes: number }[] = [];
  private readonly arena: ParamArena;
  protected readonly launch: OptimizerLaunch;
  protected readonly plan: ReturnType<typeof checkpointPlan>;
  protected hyper!: GPUBuffer;
  protected lossState!: GPUBuffer;
  protected loss!: GPUBuffer;
  private readonly lossRing: GPUBuffer[] = [];
  // Losses requested and not yet taken, oldest first.
  private readonly lossPending: Promise<number>[] = [];
  private stepIndex = 0;
  private op = 0;
  /** The step's recorder between beginStep and the end of finishStep; null outside a step. */
  private recorder: StepRecording | null = null;

  protected constructor(device: GPUDevice, ledger: Ledger, opts: TrainerOptions) {
    this.device = device;
    this.ledger = ledger;
    this.opts = opts;
    this.act = opts.precision === 'amp-fp16' ? 'f16' : opts.precision === 'amp-bf16' ? 'bf16' : 'f32';
    this.plan = checkpointPlan(opts.checkpoint, opts.blocks);
    const states = opts.optimizer === 'sgd' ? 0 : opts.optimizer === 'sgd-momentum' ? 1 : 2;
    this.arena = new ParamArena(device, ledger, states, this.act === 'f32' ? null : this.act);
    this.launch = optimizerLaunch(device);
  }

  get amp(): boolean {
    return this.act !== 'f32';
  }

  /**
   * A tensor from the ledger. Inside a step, a buffer released earlier in the step (or pooled
   * from the last one) may be reused for it: fewer buffers created per step, and the physical
   * bytes stay near the logical ones (see LedgerCreateOptions.reuseIn). `firstWrite` says
   * whether the first kernel to write the tensor overwrites all of it, so the reused buffer
   * needs no clearBuffer (every tensor of a step so far: the accumulations, dX += dX1 and the
   * embedding's into wte's gradient, add into tensors a kernel wrote whole before), or adds
   * into it, which needs it zeroed.
   */
  protected buffer(name: string, category: LedgerCreateOptions['category'], size: number, usage = tensorUsage(), firstWrite: FirstWrite = 'overwrites'): Promise<GPUBuffer> {
    const reuseIn = this.recorder?.encoder;
    return this.ledger.create({ name, category, size, usage, ...(reuseIn ? { reuseIn, overwritten: firstWrite === 'overwrites' } : {}) });
  }

  /** Bytes of n activation values in this run's storage. */
  protected actBytes(n: number): number {
    return storageBytes(n, this.act);
  }

  /**
   * A parameter: fp32 values (master weights under amp), a 16-bit copy for matmul weights
   * under amp, and the optimizer's states at zero as in torch.optim, all in the parameter
   * arena (param-arena.ts); its gradient's place there too.
   */
  protected async param(name: string, n: number, init: (n: number) => Float32Array, matmul: boolean, adapter = false): Promise<Param> {
    // A LoRA adapter is fp32 'weights' at any precision: its matmuls read it as it is, so
    // there is no 16-bit copy for it to be the master of.
    const t = await this.arena.add(name, n, this.amp && !adapter ? 'master-weights' : 'weights', this.amp && matmul && !adapter, init);
    const p: Param = { name, n, arena: t, master: t.master, half: t.half, m: t.m, v: t.v };
    this.params_.push(p);
    return p;
  }

  /**
   * A frozen tensor (a LoRA run's base): 'weights' holding `words` as given (fp32 values,
   * packed 16-bit, NF4 codes or scales), no gradient, no optimizer state, never updated.
   */
  protected async frozen(name: string, bytes: number, words: () => Uint32Array | Float32Array): Promise<GPUBuffer> {
    const buf = await this.buffer(name, 'weights', bytes);
    this.device.queue.writeBuffer(buf, 0, words());
    this.frozen_.push({ name, buffer: buf, bytes });
    return buf;
  }

  /** A frozen fp32 parameter (LayerNorm, bias, embedding of a LoRA run) in the shape of a Param. */
  protected async frozenParam(name: string, n: number, init: (n: number) => Float32Array): Promise<Param> {
    const master = await this.frozen(name, 4 * n, () => init(n));
    return { name, n, arena: null, master, half: null, m: null, v: null };
  }

  /** The frozen tensors, by name, with their bytes (tests read them back). */
  frozenTensors(): { name: string; buffer: GPUBuffer; bytes: number }[] {
    return [...this.frozen_];
  }

  /** Hyper-parameters, loss-scale state and loss (workspace), and the loss readback (staging). */
  protected async allocateWorkspace(): Promise<void> {
    await this.arena.allocate();
    this.hyper = await this.buffer('optimizer.hyper', 'workspace', ENGINE_WORKSPACE.hyperBytes);
    this.lossState = await this.buffer('loss.scaleState', 'workspace', LOSS_STATE_BYTES);
    const state = new ArrayBuffer(LOSS_STATE_BYTES);
    new Float32Array(state, 0, 1)[0] = this.opts.precision === 'amp-fp16' ? FP16_INIT_SCALE : 1;
    this.device.queue.writeBuffer(this.lossState, 0, state);
    this.loss = await this.buffer('loss', 'workspace', ENGINE_WORKSPACE.lossBytes);
    for (let i = 0; i < LOSS_RING; i++) this.lossRing.push(await this.buffer(`loss.readback${i}`, 'staging', 4, readbackUsage()));
    if (this.amp) {
      const enc = this.device.createCommandEncoder({ label: 'Trainer.initCasts' });
      this.refreshHalfCopies(enc);
      this.device.queue.submit([enc.finish()]);
    }
  }

  protected refreshHalfCopies(enc: GPUCommandEncoder): void {
    for (const p of this.params_) {
      if (p.half) recordCast(this.device, enc, { src: p.master, srcStorage: 'f32', dst: p.half, dstStorage: this.act, n: p.n });
    }
  }

  /** The weight a matmul reads: the 16-bit copy under amp, the fp32 tensor otherwise. */
  protected weight(p: Param): { buf: GPUBuffer; storage: Storage } {
    return p.half ? { buf: p.half, storage: this.act } : { buf: p.master, storage: 'f32' };
  }

  /** Starts a step: writes this step's hyper-parameters (before any command of it is submitted). */
  protected beginStep(rec: StepRecording): void {
    this.recorder = rec;
    this.stepIndex += 1;
    this.op = 0;
    // A step recorded for its pipelines only (warmUp) writes nothing to the GPU.
    if (rec instanceof DryRecorder) return;
    // torch.optim defaults: momentum 0.9 (as most recipes set it), Adam β = (0.9, 0.999), ε = 1e-8, AdamW decay 0.01.
    writeHyper(this.device.queue, this.hyper, {
      lr: this.opts.lr,
      step: this.stepIndex,
      weightDecay: this.opts.optimizer === 'adamw' ? 0.01 : 0,
      momentum: 0.9,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
    });
  }

  /** Labels the ledger's next events with the op they belong to. */
  protected begin(label: string): void {
    this.ledger.setOp(this.op++, label);
  }

  /** p's gradient, live from now: its slice of the gradient arena (its first writer overwrites it). */
  protected grad(grads: Grad[], p: Param): Promise<GPUBuffer> {
    if (!p.arena) throw new Error(`Trainer: '${p.name}' is frozen and has no gradient`);
    const buffer = p.arena.grad;
    this.ledger.trackSlice(buffer, `${p.name}.grad`, 'gradients', 4 * p.n);
    grads.push({ name: `${p.name}.grad`, buffer, n: p.n, param: p });
    return Promise.resolve(buffer);
  }

  /** After backward: lets a test read the gradients, then runs the optimizer and frees them. */
  protected async finishStep(rec: StepRecording, grads: Grad[], inspect?: GradInspector): Promise<void> {
    if (inspect) {
      await rec.submit();
      await inspect(grads.map(({ name, buffer, n }) => ({ name, buffer, n })));
    }
    await rec.phase('optimizer', () => {
      this.begin(ENGINE_OP.optimizer);
      if (this.launch === 'fused') this.recordFusedOptimizer(rec.encoder, grads);
      else this.recordPerTensorOptimizer(rec.encoder, grads);
      for (const g of grads) this.ledger.release(g.buffer);
    });
    // The loss for the host, read back after the step (requestLoss); in the step's last encoder.
    const slot = this.lossRing[this.stepIndex % LOSS_RING]!;
    if (slot.mapState !== 'unmapped') throw new Error(`Trainer: the loss of step ${this.stepIndex - LOSS_RING} was not taken before step ${this.stepIndex} (takeLoss)`);
    endOpenPass(rec.encoder);
    rec.encoder.copyBufferToBuffer(this.loss, 0, slot, 0, 4);
    countReadback(rec.encoder);
    this.recorder = null;
  }

  /**
   * Per arena chunk one update over all its tensors, writing the 16-bit copies under amp; under
   * fp16 first one finiteness check per chunk over all its gradients, then the scale's update.
   * Every trainable parameter has its gradient by now: a chunk's update reads them all.
   */
  private recordFusedOptimizer(enc: GPUCommandEncoder, grads: Grad[]): void {
    const have = new Set(grads.map((g) => g.param));
    const missing = this.params_.find((p) => !have.has(p));
    if (missing) throw new Error(`Trainer: the step made no gradient for '${missing.name}'; the fused optimizer updates every trainable parameter`);
    const fp16 = this.opts.precision === 'amp-fp16';
    const chunks = this.arena.chunks;
    if (fp16) {
      chunks.forEach((c, i) => recordCheckFinite(this.device, enc, { grads: c.grad!, n: c.bytes / 4, lossState: this.lossState, counted: this.arena.counted(i).values }));
    }
    chunks.forEach((c, i) => {
      recordOptimizerStep(this.device, enc, {
        kind: this.opts.optimizer,
        n: c.bytes / 4,
        params: c.master!,
        grads: c.grad!,
        m: c.m ?? undefined,
        v: c.v ?? undefined,
        hyper: this.hyper,
        lossState: this.lossState,
        ...(c.half && this.act !== 'f32' ? { half: { buffer: c.half, storage: this.act } } : {}),
        counted: this.arena.counted(i),
      });
    });
    if (fp16) recordUpdateLossScale(this.device, enc, { lossState: this.lossState, growthInterval: GROWTH_INTERVAL });
  }

  /** One update per tensor, a check per gradient (fp16) and a cast per 16-bit copy (amp). */
  private recordPerTensorOptimizer(enc: GPUCommandEncoder, grads: Grad[]): void {
    const fp16 = this.opts.precision === 'amp-fp16';
    if (fp16) for (const g of grads) recordCheckFinite(this.device, enc, { grads: g.buffer, n: g.n, lossState: this.lossState });
    for (const g of grads) {
      const p = g.param;
      recordOptimizerStep(this.device, enc, { kind: this.opts.optimizer, n: p.n, params: p.master, grads: g.buffer, m: p.m ?? undefined, v: p.v ?? undefined, hyper: this.hyper, lossState: this.lossState });
    }
    if (this.amp) this.refreshHalfCopies(enc);
    if (fp16) recordUpdateLossScale(this.device, enc, { lossState: this.lossState, growthInterval: GROWTH_INTERVAL });
  }

  abstract step(rec: StepRecording, inspect?: GradInspector): Promise<void>;

  /**
   * Creates every compute pipeline the step uses and the device has not cached yet, before the
   * first step: the step is recorded dry (dry.ts: no buffer, no command, nothing in the ledger,
   * the step count unchanged) to learn its pipelines, which are then created with
   * createComputePipelineAsync, all requested at once and awaited together (in Node, where Dawn
   * compiles them no faster that way, one by one: kernels/storage.ts PipelineCreation). The
   * steps after it compile nothing, and in a browser the worker is not blocked while the GPU
   * process compiles. Returns how many pipelines it created; rejects with an Error named
   * PipelineFailed if one does not compile.
   */
  async warmUp(how: PipelineCreation = isPatient(this.device) ? 'sync' : 'async'): Promise<number> {
    if (this.recorder) throw new Error('Trainer.warmUp: a step is being recorded');
    const stepIndex = this.stepIndex;
    try {
      return await collectPipelines(this.device, () => this.ledger.dry(() => this.step(new DryRecorder())), how);
    } finally {
      this.stepIndex = stepIndex;
      this.recorder = null;
    }
  }

  /**
   * Starts reading the last step's loss back, once its recorder has finished (submitted it):
   * the step copied it into its ring slot. takeLoss() gives it, a step later or at once.
   */
  requestLoss(): void {
    const slot = this.lossRing[this.stepIndex % LOSS_RING]!;
    const loss = slot.mapAsync(GPUMapMode.READ).then(() => {
      const v = new Float32Array(slot.getMappedRange().slice(0))[0]!;
      slot.unmap();
      return v;
    });
    // A run that ends early (an error, Ctrl-C) destroys the slot and rejects a loss no one takes.
    loss.catch(() => undefined);
    this.lossPending.push(loss);
  }

  /** The oldest requested loss. */
  takeLoss(): Promise<number> {
    const next = this.lossPending.shift();
    if (!next) throw new Error('Trainer.takeLoss: no loss was requested (requestLoss after the step)');
    return next;
  }

  /** The loss of the last step, at once (tests; the run loop reads it a step late instead). */
  readLoss(): Promise<number> {
    if (this.lossPending.length > 0) throw new Error('Trainer.readLoss: losses requested earlier are still to be taken');
    this.requestLoss();
    return this.takeLoss();
  }

  /** Steps skipped by the loss scaler so far. */
  async readSkippedSteps(): Promise<number> {
    return (await this.readWords(this.lossState, 4))[3]!;
  }

  /** Reads u32 words of a buffer through a temporary staging buffer (between steps only). */
  async readWords(src: GPUBuffer, words: number): Promise<Uint32Array> {
    const staging = await this.ledger.create({ name: 'readback', category: 'staging', size: 4 * words, usage: readbackUsage() });
    try {
      const enc = this.device.createCommandEncoder({ label: 'Trainer.readWords' });
      const from = bufferRange(src);
      enc.copyBufferToBuffer(from.buffer, from.offset, staging, 0, 4 * words);
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

  /** Writes f32 values into a tensor (its own buffer or its arena slice) from offset 0 (tests: finite differences). */
  writeFloats(dst: GPUBuffer, values: Float32Array): void {
    const to = bufferRange(dst);
    if (values.byteLength > to.size) throw new RangeError(`Trainer.writeFloats: ${values.byteLength} B do not fit '${dst.label}' (${to.size} B)`);
    this.device.queue.writeBuffer(to.buffer, to.offset, values);
  }

  /** The fp32 parameters, by name (tests). */
  params(): { name: string; buffer: GPUBuffer; n: number }[] {
    return this.params_.map((p) => ({ name: p.name, buffer: p.master, n: p.n }));
  }
}
