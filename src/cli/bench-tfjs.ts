/**
 * The TensorFlow.js side of `vramlab bench`: the same work as our engine (a square matmul, an
 * MLP training step, a GPT-2-style training step) on TF.js's WebGPU backend, in this process,
 * on its own GPUDevice from the process's one Dawn instance, so its memory is apart from ours.
 *
 * TF.js in Node on Dawn needs four things its `webgpu` registration does not do for us:
 * - its backend is built here with a device we open (`new WebGPUBackend(device, info)`); the
 *   package registers its own 'webgpu' factory only when `navigator.gpu` exists at import time,
 *   which it does not in Node 20 (no global `navigator`), and that factory would request a
 *   second adapter from whatever `navigator.gpu` is;
 * - the WebGPUBackend constructor still checks `navigator.gpu` (webgpu_util.isWebGPUSupported,
 *   backend_webgpu.ts), so `navigator.gpu` is set to nodeGpu() while it runs and put back after;
 * - kernels are registered per backend name, so the 'webgpu' kernel configs are copied to ours;
 * - gradients come from importing @tensorflow/tfjs (see below).
 * https://github.com/tensorflow/tfjs/blob/tfjs-v4.22.0/tfjs-backend-webgpu/src/base.ts
 *
 * TF.js has one engine per process (its tensors, variables and active backend are globals), so
 * at most one runner is open at a time.
 */
import * as tf from '@tensorflow/tfjs-core';
// For its side effect only: the gradients of TF.js's ops. tfjs-core's Node bundle registers
// none (training fails with "gradient function not found for Mean"); only the union package's
// bundle carries @tensorflow/tfjs-core/dist/register_all_gradients, whose own files are ESM
// with extensionless imports that Node cannot load. It also registers the 'cpu' backend
// (priority 1, never selected here); 'webgl' registers only in a browser.
import '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { COMPUTE_LIMITS, openDevice } from '../engine/device.ts';
import { nodeGpu } from '../engine/node.ts';
import { mulberry32, uniform } from '../engine/rng.ts';
import type { DeviceErrorReport } from '../protocol/engine-api.ts';

/**
 * TF.js's own counters, from its buffer manager (tf.memory().numBytesInGPU and
 * .numBytesAllocatedInGPU on the webgpu backend).
 */
export interface TfjsMemory {
  /**
   * Peak since restart() of the bytes of GPUBuffers TF.js has handed out and not taken back:
   * live tensors, plus tensors disposed while still referenced by unsubmitted commands, plus
   * uniform and readback staging buffers in flight. Sampled at every buffer acquisition.
   */
  peakInUseBytes: number;
  /** Bytes of every GPUBuffer TF.js created (in use + its free pool) so far; its pool never shrinks. */
  allocatedBytes: number;
}

/**
 * One workload set up on TF.js, to be stepped by a caller that times each step(): set-up
 * (backend, tensors, variables) is done before, teardown in dispose(), neither in a step. A
 * step() resolves once all of its GPU work is done (see each workload for how).
 */
export interface TfjsSteps {
  /** One iteration; a training step resolves to its loss (before its update), a matmul to undefined. */
  step(): Promise<number | undefined>;
  /** Starts the memory peak over from now (after warm-up). */
  restart(): void;
  /** The peak since restart() and what is allocated now; throws the first device error seen. */
  measure(): TfjsMemory;
  /** Frees the workload's tensors, variables and optimizer; the runner can open the next one. */
  dispose(): void;
}

export interface MlpBenchConfig {
  d: number;
  hidden: number;
  layers: number;
  batch: number;
  activation: 'relu' | 'gelu';
}

export interface GptBenchConfig {
  vocab: number;
  dModel: number;
  heads: number;
  layers: number;
  seq: number;
  batch: number;
}

export interface TfjsRunner {
  /** @tensorflow/tfjs-core's version. */
  version: string;
  /** The adapter TF.js's device came from: vendor, architecture and driver description. */
  adapter: string;
  /** f32 n×n · n×n; a step is one product, submitted and waited for. */
  matmul(n: number): Promise<TfjsSteps>;
  /** Our engine's `mlp` trained with Adam; a step is forward, backward and update, ending in the loss's readback. */
  mlp(cfg: MlpBenchConfig, seed: number): Promise<TfjsSteps>;
  /** A GPT-2-style decoder trained with Adam; a step as mlp's. */
  gpt(cfg: GptBenchConfig, seed: number): Promise<TfjsSteps>;
  /** Disposes every tensor and the backend, and destroys the device. */
  dispose(): Promise<void>;
}

/** Our backend's name in TF.js's registry; 'webgpu' stays TF.js's own. */
const BACKEND = 'webgpu-vramlab';
/** The backend whose kernel configs ours reuses. */
const KERNELS_FROM = 'webgpu';
/** PyTorch's Adam defaults, as our engine uses; TF.js's default epsilon is 1e-7. */
const ADAM = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;
/** GPT-2's initialisation as our engine has it: uniform weights of standard deviation 0.02. */
const GPT_INIT_STD = 0.02;
/** PyTorch's LayerNorm epsilon, as our engine uses. */
const LAYERNORM_EPS = 1e-5;
/** Added to masked (future) attention scores: exp() of it is 0 in f32 and stays finite in backward. */
const MASKED_SCORE = -1e9;
const GELU_C = Math.sqrt(2 / Math.PI);

let runnerOpen = false;

/** Opens TF.js's WebGPU backend on a device of its own. */
export async function openTfjs(): Promise<TfjsRunner> {
  if (runnerOpen) throw new Error('A TF.js runner is already open: TF.js has one engine per process, dispose() the first one');
  runnerOpen = true;
  try {
    return await TfjsBench.open();
  } catch (e) {
    runnerOpen = false;
    throw e;
  }
}

class TfjsBench implements TfjsRunner {
  readonly version = tf.version_core;
  private backend: WebGPUBackend | null = null;
  /** Peak of bufferManager.numBytesUsed since the last resetPeak(). */
  private peakBytes = 0;
  private disposed = false;
  /** A workload is set up and not yet disposed. */
  private workloadOpen = false;

  private constructor(
    private readonly device: GPUDevice,
    readonly adapter: string,
    private readonly adapterInfo: GPUAdapterInfo,
    private readonly errors: DeviceErrorReport[],
  ) {}

  static async open(): Promise<TfjsBench> {
    const errors: DeviceErrorReport[] = [];
    // Its own device, with our engine's raised limits (they include every limit TF.js's own
    // registration raises) and without timestamp-query: TF.js only uses it in tf.time()/tf.profile().
    const { adapter, device, summary } = await openDevice(nodeGpu(), {
      label: 'vramlab.tfjs',
      optionalFeatures: [],
      raiseLimits: COMPUTE_LIMITS,
      onError: (r) => errors.push(r),
    });
    // Skips TF.js's debug checks and deprecation warnings; errors still throw.
    tf.enableProdMode();
    for (const k of tf.getKernelsForBackend(KERNELS_FROM)) {
      if (!tf.getKernel(k.kernelName, BACKEND)) tf.registerKernel({ ...k, backendName: BACKEND });
    }
    const label = [summary.vendor, summary.architecture].filter(Boolean).join(' ');
    const s = new TfjsBench(device, summary.description ? `${label} (${summary.description})` : label, adapter.info, errors);
    try {
      await s.freshBackend();
    } catch (e) {
      device.destroy();
      throw e;
    }
    return s;
  }

  /**
   * Replaces the backend with a new one on the same device, so each workload starts with an
   * empty buffer pool and its allocatedBytes are its own (TF.js never frees pooled buffers).
   * Pipelines are compiled again; warm-up iterations absorb that.
   */
  private async freshBackend(): Promise<WebGPUBackend> {
    if (this.workloadOpen) throw new Error('A TF.js workload is still open: dispose() it before opening the next');
    if (tf.engine().state.numTensors !== 0) {
      throw new Error(`${tf.engine().state.numTensors} TF.js tensors are alive: a benchmark workload leaked them`);
    }
    if (tf.findBackendFactory(BACKEND)) tf.removeBackend(BACKEND);
    this.backend = null;
    tf.registerBackend(BACKEND, () => {
      const nav = globalThis as { navigator?: { gpu?: GPU } };
      const hadNavigator = 'navigator' in globalThis;
      const saved = Object.getOwnPropertyDescriptor(nav.navigator ?? {}, 'gpu');
      nav.navigator ??= {};
      Object.defineProperty(nav.navigator, 'gpu', { value: nodeGpu(), configurable: true, writable: true });
      try {
        return new WebGPUBackend(this.device, this.adapterInfo);
      } finally {
        if (!hadNavigator) delete nav.navigator;
        else if (saved) Object.defineProperty(nav.navigator, 'gpu', saved);
        else delete nav.navigator!.gpu;
      }
    });
    if (!(await tf.setBackend(BACKEND))) throw new Error('TF.js could not start its WebGPU backend on our device');
    const backend = tf.backend() as WebGPUBackend;
    // Peak tracking: every GPUBuffer TF.js takes goes through acquireBuffer, so the peak of
    // numBytesUsed is exact without sampling between ops.
    // https://github.com/tensorflow/tfjs/blob/tfjs-v4.22.0/tfjs-backend-webgpu/src/buffer_manager.ts
    const bm = backend.bufferManager;
    const acquire = bm.acquireBuffer.bind(bm);
    bm.acquireBuffer = (...args) => {
      const b = acquire(...args);
      if (bm.numBytesUsed > this.peakBytes) this.peakBytes = bm.numBytesUsed;
      return b;
    };
    this.backend = backend;
    return backend;
  }

  private resetPeak(backend: WebGPUBackend): void {
    this.peakBytes = backend.bufferManager.numBytesUsed;
  }

  private memory(): TfjsMemory {
    const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
    return { peakInUseBytes: this.peakBytes, allocatedBytes: m.numBytesAllocatedInGPU ?? 0 };
  }

  /** Throws the first device error seen since the runner opened. */
  private checkErrors(): void {
    const r = this.errors[0];
    if (!r) return;
    const advice = r.kind === 'out-of-memory' ? `: ${r.message}` : '';
    throw new Error(`TF.js's WebGPU device reported ${r.kind === 'lost' ? 'its loss' : `a ${r.kind} error`} (${r.detail.trim()})${advice}`);
  }

  private live(): void {
    if (this.disposed) throw new Error('This TF.js runner was disposed');
  }

  async matmul(n: number): Promise<TfjsSteps> {
    this.live();
    const backend = await this.freshBackend();
    const rand = mulberry32(1);
    const a = tf.tensor2d(uniform(rand, n * n, 1), [n, n]);
    const b = tf.tensor2d(uniform(rand, n * n, 1), [n, n]);
    return this.workload(
      async () => {
        const c = tf.matMul(a, b);
        // What TF.js's own readback does first (getBufferData): close the open pass, submit;
        // then wait for the queue, so the step holds the GPU work and no readback.
        backend.ensureCommandEncoderReady();
        backend.endComputePassEncoder();
        backend.submitQueue();
        await this.device.queue.onSubmittedWorkDone();
        c.dispose();
        return undefined;
      },
      () => tf.dispose([a, b]),
    );
  }

  async mlp(cfg: MlpBenchConfig, seed: number): Promise<TfjsSteps> {
    this.live();
    await this.freshBackend();
    const { d, hidden, batch } = cfg;
    // Same draws in the same order as our engine's MlpTrainer: per block W1, b1, W2, b2, then x.
    // W is [in, out] and a Linear is x·W + b.
    const rand = mulberry32(seed);
    const init = (fanIn: number, shape: [number] | [number, number]) =>
      variable(uniform(rand, shape.reduce((p, q) => p * q, 1), 1 / Math.sqrt(fanIn)), shape);
    const blocks = Array.from({ length: cfg.layers }, () => ({
      W1: init(d, [d, hidden]),
      b1: init(d, [hidden]),
      W2: init(hidden, [hidden, d]),
      b2: init(hidden, [d]),
    }));
    const x = tf.tensor2d(uniform(rand, batch * d, 1), [batch, d]);
    // ReLU fuses into the matmul's epilogue as TF.js's own layers do; GELU has no fused form.
    const block = (h: tf.Tensor2D, blk: (typeof blocks)[number]): tf.Tensor2D =>
      cfg.activation === 'relu'
        ? linear(linear(h, blk.W1, blk.b1, 'relu'), blk.W2, blk.b2)
        : linear(gelu(linear(h, blk.W1, blk.b1)), blk.W2, blk.b2);
    const loss = (): tf.Scalar => {
      let h: tf.Tensor2D = x;
      for (const blk of blocks) h = block(h, blk);
      return tf.mean(tf.square(h));
    };
    return this.train(loss, [x], blocks.flatMap((b) => [b.W1, b.b1, b.W2, b.b2]));
  }

  async gpt(cfg: GptBenchConfig, seed: number): Promise<TfjsSteps> {
    this.live();
    const { vocab: V, dModel: d, heads: H, seq: S, batch: B } = cfg;
    if (d % H !== 0) throw new Error(`dModel ${d} is not a multiple of heads ${H}`);
    await this.freshBackend();
    const hd = d / H;
    const I = 4 * d;
    const rows = B * S;
    // Same draws in the same order as our engine's GptTrainer: wte, wpe, per block Wqkv, Wo,
    // W1, W2 (biases 0, LayerNorm gains 1 draw nothing), then the tokens.
    const rand = mulberry32(seed);
    const w = (shape: [number, number]) => variable(uniform(rand, shape[0] * shape[1], GPT_INIT_STD * Math.sqrt(3)), shape);
    const fill = (n: number, v: number) => variable(new Float32Array(n).fill(v), [n]);
    const wte = w([V, d]);
    const wpe = w([S, d]);
    const blocks = Array.from({ length: cfg.layers }, () => ({
      ln1g: fill(d, 1),
      ln1b: fill(d, 0),
      Wqkv: w([d, 3 * d]),
      bqkv: fill(3 * d, 0),
      Wo: w([d, d]),
      bo: fill(d, 0),
      ln2g: fill(d, 1),
      ln2b: fill(d, 0),
      W1: w([d, I]),
      b1: fill(I, 0),
      W2: w([I, d]),
      b2: fill(d, 0),
    }));
    const lnfg = fill(d, 1);
    const lnfb = fill(d, 0);
    // The engine's task: count up modulo the vocabulary from a random start; targets are the
    // next tokens. picks[r] = r·V + target[r] indexes the flattened [rows, V] log-probabilities.
    const ids = new Int32Array(rows);
    const picks = new Int32Array(rows);
    for (let b = 0; b < B; b++) {
      const start = Math.floor(rand() * V);
      for (let t = 0; t < S; t++) {
        const r = b * S + t;
        ids[r] = (start + t) % V;
        picks[r] = r * V + ((start + t + 1) % V);
      }
    }
    const idsT = tf.tensor1d(ids, 'int32');
    const picksT = tf.tensor1d(picks, 'int32');
    // Causal mask [S, S]: 0 where key ≤ query, MASKED_SCORE above the diagonal.
    const mask = tf.tensor2d(Float32Array.from({ length: S * S }, (_, i) => (i % S > Math.floor(i / S) ? MASKED_SCORE : 0)), [S, S]);
    const scale = 1 / Math.sqrt(hd);
    const loss = (): tf.Scalar => {
      let x = tf.reshape(tf.add(tf.reshape(tf.gather(wte, idsT), [B, S, d]), wpe), [rows, d]) as tf.Tensor2D;
      for (const blk of blocks) {
        const qkv = linear(layerNorm(x, blk.ln1g, blk.ln1b), blk.Wqkv, blk.bqkv);
        // [rows, d] each → [B, H, S, hd]
        const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.transpose(tf.reshape(t, [B, S, H, hd]), [0, 2, 1, 3]));
        const scores = tf.add(tf.matMul(tf.mul(q!, scale), k!, false, true), mask);
        const att = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v!), [0, 2, 1, 3]), [rows, d]) as tf.Tensor2D;
        x = tf.add(x, linear(att, blk.Wo, blk.bo));
        x = tf.add(x, linear(gelu(linear(layerNorm(x, blk.ln2g, blk.ln2b), blk.W1, blk.b1)), blk.W2, blk.b2));
      }
      // LM head tied to the token embedding: logits = y·wteᵀ, [rows, V].
      const logits = tf.matMul(layerNorm(x, lnfg, lnfb), wte, false, true);
      const picked = tf.gather(tf.reshape(tf.logSoftmax(logits), [rows * V]), picksT);
      return tf.neg(tf.mean(picked));
    };
    const params = [wte, wpe, ...blocks.flatMap((b) => Object.values(b)), lnfg, lnfb];
    return this.train(loss, [idsT, picksT, mask], params);
  }

  /**
   * Adam steps of `loss` over `params`; dispose() frees the parameters, the optimizer's slots and
   * `constants`. One step is forward + backward + update (optimizer.minimize) and ends when the
   * loss is read back, which waits for all the step's GPU work.
   */
  private train(loss: () => tf.Scalar, constants: tf.Tensor[], params: tf.Variable[]): TfjsSteps {
    const optimizer = tf.train.adam(ADAM.lr, ADAM.beta1, ADAM.beta2, ADAM.eps);
    let tensorsAfterStep = -1;
    return this.workload(
      async () => {
        const cost = optimizer.minimize(loss, true, params);
        if (!cost) throw new Error('TF.js returned no loss');
        const [v] = await cost.data();
        cost.dispose();
        // Adam's slots appear in the first step; after it, any growth is a leak.
        const n = tf.memory().numTensors;
        if (tensorsAfterStep >= 0 && n !== tensorsAfterStep) throw new Error(`TF.js tensors went from ${tensorsAfterStep} to ${n} in one step`);
        tensorsAfterStep = n;
        return v!;
      },
      () => {
        optimizer.dispose();
        tf.dispose([...params, ...constants]);
      },
    );
  }

  /** The open workload: `step` per iteration, `free` once; one at a time (freshBackend checks that nothing is left). */
  private workload(step: () => Promise<number | undefined>, free: () => void): TfjsSteps {
    const backend = this.backend!;
    let open = true;
    this.workloadOpen = true;
    return {
      step: async () => {
        if (!open) throw new Error('This TF.js workload was disposed');
        this.live();
        return step();
      },
      restart: () => this.resetPeak(backend),
      measure: () => {
        this.checkErrors();
        return this.memory();
      },
      dispose: () => {
        if (!open) return;
        open = false;
        this.workloadOpen = false;
        free();
      },
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      tf.disposeVariables();
      const left = tf.engine().state.numTensors;
      // Destroys every GPUBuffer of its pool; the device goes after it.
      if (tf.findBackendFactory(BACKEND)) tf.removeBackend(BACKEND);
      this.backend = null;
      await this.device.queue.onSubmittedWorkDone();
      this.device.destroy();
      this.checkErrors();
      if (left !== 0) throw new Error(`${left} TF.js tensors were still alive at dispose()`);
    } finally {
      runnerOpen = false;
    }
  }
}

/** A trainable variable holding `data`; the tidy drops the tensor it was made from. */
function variable(data: Float32Array, shape: number[]): tf.Variable {
  return tf.tidy(() => tf.variable(tf.tensor(data, shape)));
}

/** x·W + b, then `activation`: a Linear with W [in, out], as TF.js's fused matmul. */
function linear(x: tf.Tensor2D, W: tf.Variable, b: tf.Variable, activation: 'linear' | 'relu' = 'linear'): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: W, bias: b, activation }) as tf.Tensor2D;
}

/** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function gelu<T extends tf.Tensor>(x: T): T {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), GELU_C);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** LayerNorm over the last axis of [rows, d]: (x − mean)/√(var + eps)·g + b. */
function layerNorm(x: tf.Tensor2D, g: tf.Variable, b: tf.Variable): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, 1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LAYERNORM_EPS))), g), b);
}
