/**
 * One description of a model the engine runs, read twice: the engine's trainer
 * (src/engine/graph/) allocates every parameter and every tensor of a step by its name here,
 * with the bytes given here, and the planner's `framework: vramlab` estimate derives its units
 * (src/estimate/schedule.ts) from the same description with `describedLayout`. A size, a saved
 * tensor or a moment of a backward written down once; the GPU tests compare the ledger of the
 * run with the estimate to the byte.
 *
 * A description is plain data and knows nothing of transformers: a chain of units (embeddings,
 * blocks, a head; a CNN's stages would be units too), each with
 *   - the parameters whose gradients its backward creates,
 *   - its tensors (name → bytes and ledger category),
 *   - what its forward keeps for backward (`saved`, its input first when it has one), the part
 *     selective recompute drops, and
 *   - its worst moments: the sets of tensors alive together in its forward and in its backward,
 *     from which the transients the schedule needs follow.
 *
 * A parameter trains (fp32 master, 16-bit copy, gradient, optimizer states), is a LoRA adapter
 * (trains, fp32 as it is) or is frozen (stored fp32, packed 16-bit or NF4; no gradient, no
 * state): a LoRA run's description says which (describe-lora.ts builds that part).
 */
import type { Unit, UnitOps } from './schedule.ts';
import { ENGINE_OP, ENGINE_WORKSPACE_BYTES, nf4AbsmaxBytes, nf4CodeBytes, packed16Bytes } from './vramlab.ts';

/**
 * How a parameter starts: uniform with a standard deviation (weights), uniform in [−bound,
 * bound) (PyTorch's nn.Linear: weights and biases U(±1/√fan_in)), ones (norm gains) or zeros
 * (biases).
 */
export type ParamInit = { kind: 'uniform'; std: number } | { kind: 'bound'; bound: number } | { kind: 'ones' } | { kind: 'zeros' };

/** How a frozen parameter is stored: fp32, packed 16-bit (a LoRA base under amp) or NF4 (a QLoRA base). */
export type FrozenStorage = 'f32' | 'packed16' | 'nf4';

export interface ParamDesc {
  /** Ledger name (its gradient is `${name}.grad`). */
  name: string;
  /** Values (fp32 each). */
  n: number;
  /** Read by a matmul: under amp it also has a packed 16-bit copy (category weights). */
  matmul: boolean;
  init: ParamInit;
  /**
   * Absent: a trained parameter (fp32, the master under amp, a 16-bit copy when `matmul`, a
   * gradient and optimizer states). 'adapter' (LoRA's A and B): trained, but fp32 'weights'
   * read as they are at any precision, so no copy and no master. 'frozen' (a LoRA run's base):
   * no gradient, no optimizer state, never updated; stored as `stored` says.
   */
  role?: 'adapter' | 'frozen';
  /** A frozen parameter's storage (default fp32); see frozenTensors. */
  stored?: FrozenStorage;
}

/**
 * The ledger tensors (category weights) of a frozen parameter: fp32 or packed 16-bit under its
 * own name; NF4 as `<name>.nf4` (8 codes per u32 word) and `<name>.absmax` (one f32 per 64).
 */
export function frozenTensors(p: ParamDesc): { name: string; bytes: number }[] {
  const stored = p.stored ?? 'f32';
  if (stored === 'nf4') return [{ name: `${p.name}.nf4`, bytes: nf4CodeBytes(p.n) }, { name: `${p.name}.absmax`, bytes: nf4AbsmaxBytes(p.n) }];
  return [{ name: p.name, bytes: stored === 'packed16' ? packed16Bytes(p.n) : 4 * p.n }];
}

export interface TensorDesc {
  bytes: number;
  category: 'activations' | 'activation-grads';
}

export interface UnitDesc {
  name: string;
  ops: UnitOps;
  /** Inside the checkpointed body (blocks). */
  recomputable: boolean;
  /** Parameters whose gradients this unit's backward creates (in creation order). */
  grads: ParamDesc[];
  /** Every tensor the unit's forward or backward creates, by ledger name; its input too. */
  tensors: Record<string, TensorDesc>;
  /** Kept after its forward for its backward: its input first (when `ops.input` > 0). */
  saved: string[];
  /** Part of `saved` that selective recompute drops and recomputes. */
  selective: string[];
  /** Sets of tensors alive together during its forward (its input included); the largest is its forward's peak. */
  forwardMoments: string[][];
  /** Sets of activation gradients alive together during its backward (the incoming gradient included). */
  backwardMoments: string[][];
  /**
   * Sets alive together when it is recomputed as the last block of a segment, which stops once
   * backward has what it needs; absent: nothing beyond `saved`.
   */
  lastRecomputeMoments?: string[][];
}

export interface ModelDescription {
  /** Every parameter, in the order the engine creates them. */
  params: ParamDesc[];
  units: UnitDesc[];
  /** Token ids, targets or the input batch: bytes alive for the whole run. */
  inputBytes: number;
}

/** What the planner's schedule reads of a description: its units and persistent bytes. */
export interface EngineLayout {
  units: Unit[];
  weightsBytes: number;
  masterBytes: number;
  gradBytes: number;
  optimizerBytes: number;
  inputBytes: number;
  workspaceBytes: number;
}

/** A tensor of a unit, by name; throws if the description has none (a trainer asking for an undescribed tensor is a bug). */
export function tensorOf(unit: UnitDesc, name: string): TensorDesc {
  const t = unit.tensors[name];
  if (!t) throw new Error(`model description: unit '${unit.name}' has no tensor '${name}'`);
  return t;
}

// A moment is a set: a tensor named twice is alive once.
const sum = (unit: UnitDesc, names: string[]) => [...new Set(names)].reduce((a, n) => a + tensorOf(unit, n).bytes, 0);
const most = (unit: UnitDesc, sets: string[][]) => sets.reduce((a, s) => Math.max(a, sum(unit, s)), 0);

/**
 * A decoder's embeddings unit: its forward makes x0 (the residual stream, `x` bytes), its
 * backward takes block 0's input gradient (`dx` bytes) and creates `grads`.
 */
export function decoderEmbeddingsUnit(x: TensorDesc, dx: TensorDesc, grads: ParamDesc[]): UnitDesc {
  return {
    name: 'embeddings',
    recomputable: false,
    grads,
    tensors: { x0: x, 'h0.dx': dx },
    saved: [],
    selective: [],
    forwardMoments: [['x0']],
    backwardMoments: [['h0.dx']],
    ops: { forward: ENGINE_OP.forwardEmbeddings, backward: ENGINE_OP.backwardEmbeddings, input: 0, output: x.bytes, gradOut: 0 },
  };
}

/** The ledger ops of a decoder's block l, whose input and output are residual streams (`x` bytes) and whose input gradient is `dx` bytes. */
export function decoderBlockOps(l: number, x: number, dx: number): UnitOps {
  return {
    forward: ENGINE_OP.forwardBlock(l),
    recompute: ENGINE_OP.recomputeBlock(l),
    selective: ENGINE_OP.recomputeAttention(l),
    backward: ENGINE_OP.backwardBlock(l),
    input: x,
    output: x,
    gradOut: dx,
  };
}

/** Optimizer states per parameter value: sgd none, momentum one, adam(w) two. */
export function optimizerStates(optimizer: string): number {
  return optimizer === 'sgd' ? 0 : optimizer === 'sgd-momentum' ? 1 : 2;
}

/** The planner's units and persistent bytes of a description. */
export function describedLayout(desc: ModelDescription, opts: { amp: boolean; optimizer: string }): EngineLayout {
  const units: Unit[] = desc.units.map((u) => {
    const saved = sum(u, u.saved);
    return {
      name: u.name,
      category: 'activations',
      saved,
      selective: sum(u, u.selective),
      checkpointInput: u.recomputable ? u.ops.input : 0,
      fwdTransient: Math.max(0, most(u, u.forwardMoments) - saved),
      bwdTransient: most(u, u.backwardMoments),
      castBytes: 0,
      gradBytes: 4 * u.grads.reduce((a, p) => a + p.n, 0),
      recomputable: u.recomputable,
      ops: u.lastRecomputeMoments ? { ...u.ops, lastRecomputeTransient: Math.max(0, most(u, u.lastRecomputeMoments) - saved) } : u.ops,
    };
  });
  const values = (role: ParamDesc['role']) => desc.params.filter((p) => p.role === role).reduce((a, p) => a + p.n, 0);
  const trained = values(undefined);
  const adapters = values('adapter');
  const frozen = desc.params.filter((p) => p.role === 'frozen').reduce((a, p) => a + frozenTensors(p).reduce((b, t) => b + t.bytes, 0), 0);
  const copies = desc.params.reduce((a, p) => a + (p.matmul && p.role === undefined ? packed16Bytes(p.n) : 0), 0);
  return {
    units,
    weightsBytes: (opts.amp ? copies : 4 * trained) + 4 * adapters + frozen,
    masterBytes: opts.amp ? 4 * trained : 0,
    gradBytes: 4 * (trained + adapters),
    optimizerBytes: optimizerStates(opts.optimizer) * 4 * (trained + adapters),
    inputBytes: desc.inputBytes,
    workspaceBytes: ENGINE_WORKSPACE_BYTES,
  };
}
