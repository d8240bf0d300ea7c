/**
 * The engine's CNNs, described once: `cnn-mnist` (LeNet-5 style) and `cnn-cifar` (ResNet-20
 * for CIFAR-10, He et al. 2016 §4.2, scalable in blocks per stage and width). Layout NCHW.
 *
 * cnnGraph() builds the one description: the parameters, the model buffers (BatchNorm running
 * statistics), the activation tensors with their sizes and storage, and the layers as nodes in
 * forward order, grouped in units (the stem and each residual block, or each conv stage, are
 * units checkpointing can drop and recompute; the classifier head is not). From each node's
 * kind follows what its forward reads and writes, what its backward needs kept and which
 * gradients it writes (nodeIo). cnnProgram() turns the description into the training step as
 * a list of commands: which tensor is allocated or freed when, which node runs forward,
 * recompute or backward, and under which ledger op. The engine's trainer
 * (src/engine/graph/cnn.ts) executes that program on the GPU; the planner's framework-vramlab
 * estimate (cnnEnginePlan) walks the same program and adds up bytes. Neither holds a layout
 * of its own, so they agree to the byte by construction, and the GPU tests check it.
 *
 * Rules of the program (the engine's memory policy):
 * - forward: a node's outputs are allocated before it runs; after it, every tensor that no
 *   later forward node reads and no backward needs is freed (a conv output that only a ReLU
 *   reads goes at once: ReLU keeps its output). Under full or √n checkpointing, at the end of
 *   a dropped unit, what it made is freed too except its output for the next unit, and its
 *   input unless it is a checkpoint (full: every unit's; √n: each segment's first).
 * - backward, units last to first: a dropped unit (or its √n segment) is first recomputed from
 *   its kept input: only the nodes whose outputs backward needs and are gone run again, and
 *   BatchNorm does not update its running statistics twice. Then its nodes, last to first:
 *   their parameters' gradients are allocated, then the activation gradients they write
 *   (f32; a second writer adds into the first's: the input of a residual block), the node
 *   runs, and the gradient it read and every tensor no earlier node needs are freed.
 * - the optimizer (engine/graph/trainer.ts) frees the parameter gradients at the end.
 *
 * Storage: activations in the run's storage (f32, or 16-bit packed two per u32 under amp);
 * BatchNorm statistics f32; activation gradients f32. Parameters fp32 (master weights under
 * amp), with packed 16-bit copies of conv and linear weights under amp (biases and BatchNorm's
 * γ, β stay f32). BatchNorm's running mean and variance are model buffers: f32, counted with
 * the weights (as PyTorch counts buffers), not as parameters.
 */
import type { PlanConfig } from '../protocol/config.ts';
import { type CategoryBytes, type OpMoment, type Phase, type PlanCategory, zeroCategories } from '../protocol/plan.ts';
import { EstimateError } from './errors.ts';
import type { CnnSpec } from './specs.ts';
import { ENGINE_WORKSPACE_BYTES, storageBytes } from './vramlab.ts';
import { checkpointPlan } from './schedule.ts';

/** The two presets at their published shapes. */
export const CNN_PRESETS: Record<string, Omit<CnnSpec, 'kind' | 'id'>> = {
  'cnn-mnist': { name: 'LeNet-5 (MNIST)', arch: 'lenet5', inChannels: 1, imageSize: 28, classes: 10, blocks: 0, width: 6 },
  'cnn-cifar': { name: 'ResNet-20 (CIFAR-10)', arch: 'resnet-cifar', inChannels: 3, imageSize: 32, classes: 10, blocks: 3, width: 16 },
};

export const CNN_IDS = Object.keys(CNN_PRESETS);

/**
 * The spec a configuration names, with cnn-cifar's scaling applied (blocks per stage n: the
 * depth is 6n + 2, so 3 is ResNet-20 and 1 ResNet-8; the first stage's width, 16 as published).
 */
export function cnnSpecOf(id: string, cfg: Pick<PlanConfig, 'cnn'>): CnnSpec | undefined {
  const p = CNN_PRESETS[id];
  if (!p) return undefined;
  if (p.arch !== 'resnet-cifar' || !cfg.cnn) return { kind: 'cnn', id, ...p };
  const blocks = cfg.cnn.blocks ?? p.blocks;
  const width = cfg.cnn.width ?? p.width;
  const scaled = blocks !== p.blocks || width !== p.width;
  return { kind: 'cnn', id, ...p, blocks, width, name: scaled ? `ResNet-${6 * blocks + 2} (CIFAR-10, width ${width})` : p.name };
}

// ---- the description ------------------------------------------------------------------

export interface CnnTensor {
  name: string;
  /** Values, for N samples. */
  elems: number;
  /** 'act': the run's activation storage; 'f32': BatchNorm statistics. */
  storage: 'act' | 'f32';
}

export interface CnnParam {
  name: string;
  n: number;
  /** Conv and linear weights: a 16-bit copy under amp. */
  matmul: boolean;
  /** PyTorch's default init: U(−1/√fanIn, 1/√fanIn) for conv and linear weights and biases; γ = 1, β = 0. */
  init: { kind: 'uniform'; fanIn: number } | { kind: 'batchnorm' };
}

export interface ConvGeom {
  N: number;
  cin: number;
  H: number;
  W: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

export type CnnNode = { name: string; unit: number } & (
  | { op: 'conv'; x: number; y: number; w: number; b: number | null; g: ConvGeom }
  | { op: 'bn'; x: number; y: number; stats: number; affine: number; running: number; N: number; C: number; HW: number; relu: boolean; residual: number | null }
  | { op: 'relu'; x: number; y: number; n: number }
  | { op: 'maxpool'; x: number; y: number; N: number; C: number; H: number; W: number }
  | { op: 'gap'; x: number; y: number; N: number; C: number; H: number; W: number }
  | { op: 'linear'; x: number; y: number; w: number; b: number; rows: number; inF: number; outF: number }
  | { op: 'loss'; logits: number; rows: number; classes: number }
);

export interface CnnGraph {
  spec: CnnSpec;
  batch: number;
  /** Tensor 0 is the image batch (an input, never freed). */
  tensors: CnnTensor[];
  params: CnnParam[];
  /** BatchNorm running statistics: 2·C f32 each. */
  running: { name: string; C: number }[];
  nodes: CnnNode[];
  units: { name: string; recomputable: boolean }[];
}

export const CNN_IMAGES = 0;

/** Output side of a conv: ⌊(side + 2·pad − k)/stride⌋ + 1. */
const outSide = (side: number, k: number, stride: number, pad: number) => Math.floor((side + 2 * pad - k) / stride) + 1;

class Builder {
  readonly tensors: CnnTensor[] = [];
  readonly params: CnnParam[] = [];
  readonly running: { name: string; C: number }[] = [];
  readonly nodes: CnnNode[] = [];
  readonly units: { name: string; recomputable: boolean }[] = [];
  unit = -1;

  constructor(readonly N: number) {}

  tensor(name: string, elems: number, storage: 'act' | 'f32' = 'act'): number {
    this.tensors.push({ name, elems, storage });
    return this.tensors.length - 1;
  }

  param(p: CnnParam): number {
    this.params.push(p);
    return this.params.length - 1;
  }

  beginUnit(name: string, recomputable: boolean): void {
    this.units.push({ name, recomputable });
    this.unit = this.units.length - 1;
  }

  /** A conv with `cout` channels; returns its output and side. */
  conv(name: string, x: number, cin: number, side: number, cout: number, k: number, stride: number, pad: number, bias: boolean): { y: number; side: number } {
    const o = outSide(side, k, stride, pad);
    const fanIn = cin * k * k;
    const w = this.param({ name: `${name}.weight`, n: cout * cin * k * k, matmul: true, init: { kind: 'uniform', fanIn } });
    const b = bias ? this.param({ name: `${name}.bias`, n: cout, matmul: false, init: { kind: 'uniform', fanIn } }) : null;
    const y = this.tensor(`${name}.out`, this.N * cout * o * o);
    this.nodes.push({ op: 'conv', name, unit: this.unit, x, y, w, b, g: { N: this.N, cin, H: side, W: side, cout, k, stride, pad } });
    return { y, side: o };
  }

  bn(name: string, x: number, C: number, side: number, relu: boolean, residual: number | null = null): number {
    const affine = this.param({ name: `${name}.affine`, n: 2 * C, matmul: false, init: { kind: 'batchnorm' } });
    this.running.push({ name: `${name}.running`, C });
    const y = this.tensor(`${name}.out`, this.N * C * side * side);
    const stats = this.tensor(`${name}.stats`, 2 * C, 'f32');
    this.nodes.push({ op: 'bn', name, unit: this.unit, x, y, stats, affine, running: this.running.length - 1, N: this.N, C, HW: side * side, relu, residual });
    return y;
  }

  relu(name: string, x: number): number {
    const n = this.tensors[x]!.elems;
    const y = this.tensor(`${name}.out`, n);
    this.nodes.push({ op: 'relu', name, unit: this.unit, x, y, n });
    return y;
  }

  maxpool(name: string, x: number, C: number, side: number): { y: number; side: number } {
    const o = Math.floor(side / 2);
    const y = this.tensor(`${name}.out`, this.N * C * o * o);
    this.nodes.push({ op: 'maxpool', name, unit: this.unit, x, y, N: this.N, C, H: side, W: side });
    return { y, side: o };
  }

  gap(name: string, x: number, C: number, side: number): number {
    const y = this.tensor(`${name}.out`, this.N * C);
    this.nodes.push({ op: 'gap', name, unit: this.unit, x, y, N: this.N, C, H: side, W: side });
    return y;
  }

  /** Weight stored in×out (x·W, no transpose), bias f32. */
  linear(name: string, x: number, inF: number, outF: number): number {
    const w = this.param({ name: `${name}.weight`, n: inF * outF, matmul: true, init: { kind: 'uniform', fanIn: inF } });
    const b = this.param({ name: `${name}.bias`, n: outF, matmul: false, init: { kind: 'uniform', fanIn: inF } });
    const y = this.tensor(`${name}.out`, this.N * outF);
    this.nodes.push({ op: 'linear', name, unit: this.unit, x, y, w, b, rows: this.N, inF, outF });
    return y;
  }

  loss(logits: number, classes: number): void {
    this.nodes.push({ op: 'loss', name: 'loss', unit: this.unit, logits, rows: this.N, classes });
  }
}

/** The description of spec at batch N. */
export function cnnGraph(spec: CnnSpec, N: number): CnnGraph {
  const b = new Builder(N);
  const S = spec.imageSize;
  const images = b.tensor('images', N * spec.inChannels * S * S);
  if (images !== CNN_IMAGES) throw new Error('cnnGraph: the images must be tensor 0');
  if (spec.arch === 'lenet5') {
    // conv 1→6 k5 pad 2, ReLU, max pool; conv 6→16 k5, ReLU, max pool; 400 → 120 → 84 → 10.
    b.beginUnit('conv1', true);
    let c = b.conv('conv1', images, spec.inChannels, S, 6, 5, 1, 2, true);
    let r = b.relu('relu1', c.y);
    let p = b.maxpool('pool1', r, 6, c.side);
    b.beginUnit('conv2', true);
    c = b.conv('conv2', p.y, 6, p.side, 16, 5, 1, 0, true);
    r = b.relu('relu2', c.y);
    p = b.maxpool('pool2', r, 16, c.side);
    b.beginUnit('classifier', false);
    const flat = 16 * p.side * p.side;
    let h = b.relu('relu3', b.linear('fc1', p.y, flat, 120));
    h = b.relu('relu4', b.linear('fc2', h, 120, 84));
    b.loss(b.linear('fc3', h, 84, spec.classes), spec.classes);
  } else {
    // 3×3 conv → BN → ReLU; 3 stages of n basic blocks (widths w, 2w, 4w; stride 2 at the first
    // block of stages 2 and 3, with a 1×1/2 conv + BN projection shortcut); global average pool; linear.
    const w0 = spec.width;
    b.beginUnit('stem', true);
    const c = b.conv('stem.conv', images, spec.inChannels, S, w0, 3, 1, 1, false);
    let x = b.bn('stem.bn', c.y, w0, c.side, true);
    let side = c.side;
    let C = w0;
    for (let stage = 0; stage < 3; stage++) {
      const width = w0 << stage;
      for (let i = 0; i < spec.blocks; i++) {
        const name = `layer${stage + 1}.${i}`;
        const stride = stage > 0 && i === 0 ? 2 : 1;
        b.beginUnit(name, true);
        const c1 = b.conv(`${name}.conv1`, x, C, side, width, 3, stride, 1, false);
        const b1 = b.bn(`${name}.bn1`, c1.y, width, c1.side, true);
        const c2 = b.conv(`${name}.conv2`, b1, width, c1.side, width, 3, 1, 1, false);
        let shortcut = x;
        if (stride !== 1 || C !== width) {
          const sc = b.conv(`${name}.shortcut.conv`, x, C, side, width, 1, stride, 0, false);
          shortcut = b.bn(`${name}.shortcut.bn`, sc.y, width, sc.side, false);
        }
        x = b.bn(`${name}.bn2`, c2.y, width, c2.side, true, shortcut);
        side = c2.side;
        C = width;
      }
    }
    b.beginUnit('head', false);
    b.loss(b.linear('fc', b.gap('pool', x, C, side), C, spec.classes), spec.classes);
  }
  return { spec, batch: N, tensors: b.tensors, params: b.params, running: b.running, nodes: b.nodes, units: b.units };
}

/** Parameters (BatchNorm's γ and β included) and model buffers (running statistics), in values. */
export function cnnCounts(g: CnnGraph): { params: number; buffers: number } {
  return { params: g.params.reduce((a, p) => a + p.n, 0), buffers: g.running.reduce((a, r) => a + 2 * r.C, 0) };
}

/** What a node's forward reads and writes, what its backward needs kept, which gradients it reads and writes, its parameters. */
export function nodeIo(n: CnnNode): { reads: number[]; writes: number[]; needs: number[]; gradIn: number[]; gradOut: number[]; params: number[] } {
  switch (n.op) {
    case 'conv':
      return { reads: [n.x], writes: [n.y], needs: [n.x], gradIn: [n.y], gradOut: [n.x], params: n.b === null ? [n.w] : [n.w, n.b] };
    case 'bn': {
      const res = n.residual === null ? [] : [n.residual];
      return { reads: [n.x, ...res], writes: [n.y, n.stats], needs: [n.x, n.stats, ...(n.relu ? [n.y] : [])], gradIn: [n.y], gradOut: [n.x, ...res], params: [n.affine] };
    }
    case 'relu':
      return { reads: [n.x], writes: [n.y], needs: [n.y], gradIn: [n.y], gradOut: [n.x], params: [] };
    case 'maxpool':
      return { reads: [n.x], writes: [n.y], needs: [n.x], gradIn: [n.y], gradOut: [n.x], params: [] };
    case 'gap':
      return { reads: [n.x], writes: [n.y], needs: [], gradIn: [n.y], gradOut: [n.x], params: [] };
    case 'linear':
      return { reads: [n.x], writes: [n.y], needs: [n.x], gradIn: [n.y], gradOut: [n.x], params: [n.w, n.b] };
    case 'loss':
      return { reads: [], writes: [], needs: [n.logits], gradIn: [], gradOut: [n.logits], params: [] };
  }
}

// ---- the program ----------------------------------------------------------------------

export type CnnCommand =
  | { k: 'op'; label: string; phase: 'forward' | 'recompute' | 'backward' }
  | { k: 'alloc'; t: number }
  | { k: 'free'; t: number }
  | { k: 'allocGrad'; t: number }
  | { k: 'freeGrad'; t: number }
  | { k: 'paramGrad'; p: number }
  | { k: 'forward'; node: number; updateRunning: boolean }
  /** accumulate: the gradients of gradOut it adds into (a second writer) rather than overwrites. */
  | { k: 'backward'; node: number; accumulate: number[] };

export const CNN_OP = {
  forward: (unit: string) => `forward ${unit}`,
  recompute: (unit: string) => `recompute ${unit}`,
  backward: (unit: string) => `backward ${unit}`,
} as const;

export type CnnCheckpoint = 'none' | 'full' | 'sqrt';

/** The training step of g under checkpoint, as commands (see the rules above). */
export function cnnProgram(g: CnnGraph, checkpoint: CnnCheckpoint): CnnCommand[] {
  const out: CnnCommand[] = [];
  const io = g.nodes.map(nodeIo);
  const body = g.units.map((u, i) => (u.recomputable ? i : -1)).filter((i) => i >= 0);
  const plan = checkpointPlan(checkpoint, body.length);
  const dropped = new Set(body.filter((_, k) => plan.dropped[k]));
  const keepsInput = new Set(body.filter((_, k) => plan.keepsInput[k]));
  const segmentOf = (u: number) => plan.segmentOf[body.indexOf(u)]!.map((k) => body[k]!);
  const producer = new Map<number, number>();
  io.forEach((x, i) => x.writes.forEach((t) => producer.set(t, i)));
  const unitOf = (t: number) => (producer.has(t) ? g.nodes[producer.get(t)!]!.unit : -1);
  const nodesOf = (u: number) => g.nodes.map((n, i) => (n.unit === u ? i : -1)).filter((i) => i >= 0);

  const alive = new Set<number>([CNN_IMAGES]);
  const backwardDone = new Set<number>();
  // Whether any node whose backward has not run needs t.
  const neededByBackward = (t: number) => io.some((x, i) => !backwardDone.has(i) && x.needs.includes(t));
  const alloc = (t: number) => {
    alive.add(t);
    out.push({ k: 'alloc', t });
  };
  const free = (t: number) => {
    if (t === CNN_IMAGES || !alive.has(t)) return;
    alive.delete(t);
    out.push({ k: 'free', t });
  };
  // Inputs of units (produced in another unit) that a dropped unit keeps as its checkpoint.
  const unitInputs = (u: number) => [...new Set(nodesOf(u).flatMap((i) => io[i]!.reads).filter((t) => unitOf(t) !== u))];
  const kept = new Set<number>();
  for (const u of keepsInput) for (const t of unitInputs(u)) kept.add(t);

  // Forward.
  for (let u = 0; u < g.units.length; u++) {
    out.push({ k: 'op', label: CNN_OP.forward(g.units[u]!.name), phase: 'forward' });
    for (const i of nodesOf(u)) {
      if (g.nodes[i]!.op === 'loss') continue;
      for (const t of io[i]!.writes) alloc(t);
      out.push({ k: 'forward', node: i, updateRunning: true });
      for (const t of [...io[i]!.reads, ...io[i]!.writes]) {
        const laterReader = io.some((x, j) => j > i && g.nodes[j]!.op !== 'loss' && x.reads.includes(t));
        if (!laterReader && !neededByBackward(t)) free(t);
      }
    }
    if (dropped.has(u)) {
      for (const t of [...alive]) {
        const laterReader = io.some((x, j) => g.nodes[j]!.unit > u && x.reads.includes(t));
        // What a later kept unit (the head) needs in backward stays: it is not recomputed.
        const keptByHead = io.some((x, j) => !dropped.has(g.nodes[j]!.unit) && g.nodes[j]!.unit > u && x.needs.includes(t));
        const mine = unitOf(t) === u || (unitOf(t) >= 0 && dropped.has(unitOf(t)));
        if (mine && !laterReader && !keptByHead && !kept.has(t)) free(t);
      }
    }
  }

  // Backward, units last to first.
  const restored = new Set<number>();
  const gradAlive = new Set<number>();
  for (let u = g.units.length - 1; u >= 0; u--) {
    if (dropped.has(u) && !restored.has(u)) {
      const seg = segmentOf(u);
      const segNodes = seg.flatMap(nodesOf);
      // Which nodes run again: those with an output that is gone and that backward needs, or
      // that a node running again reads (walked last to first).
      const run = new Set<number>();
      for (let k = segNodes.length - 1; k >= 0; k--) {
        const i = segNodes[k]!;
        const wanted = io[i]!.writes.some((t) => !alive.has(t) && (neededByBackward(t) || [...run].some((j) => io[j]!.reads.includes(t))));
        if (wanted) run.add(i);
      }
      for (const v of seg) {
        out.push({ k: 'op', label: CNN_OP.recompute(g.units[v]!.name), phase: 'recompute' });
        for (const i of nodesOf(v)) {
          if (!run.has(i)) continue;
          for (const t of io[i]!.writes) if (!alive.has(t)) alloc(t);
          out.push({ k: 'forward', node: i, updateRunning: false });
          for (const t of [...io[i]!.reads, ...io[i]!.writes]) {
            const laterReader = [...run].some((j) => j > i && io[j]!.reads.includes(t));
            if (!laterReader && !neededByBackward(t)) free(t);
          }
        }
        restored.add(v);
      }
    }
    out.push({ k: 'op', label: CNN_OP.backward(g.units[u]!.name), phase: 'backward' });
    for (const i of nodesOf(u).reverse()) {
      const x = io[i]!;
      for (const p of x.params) out.push({ k: 'paramGrad', p });
      const accumulate: number[] = [];
      for (const t of x.gradOut) {
        if (t === CNN_IMAGES) continue;
        if (gradAlive.has(t)) accumulate.push(t);
        else {
          gradAlive.add(t);
          out.push({ k: 'allocGrad', t });
        }
      }
      out.push({ k: 'backward', node: i, accumulate });
      backwardDone.add(i);
      for (const t of x.gradIn) {
        gradAlive.delete(t);
        out.push({ k: 'freeGrad', t });
      }
      for (const t of [...alive]) if (!neededByBackward(t) && !unrestoredNeeds(t)) free(t);
    }
  }
  return out;

  // A kept checkpoint stays until the unit it feeds has been recomputed.
  function unrestoredNeeds(t: number): boolean {
    return [...dropped].some((v) => !restored.has(v) && unitInputs(v).includes(t));
  }
}

// ---- byte counts: the estimate ----------------------------------------------------------

export interface CnnLayout {
  graph: CnnGraph;
  program: CnnCommand[];
  persistent: CategoryBytes;
  tensorBytes: (t: number) => number;
  gradBytes: (t: number) => number;
  paramGradBytes: (p: number) => number;
}

const states = (optimizer: string) => (optimizer === 'sgd' ? 0 : optimizer === 'sgd-momentum' ? 1 : 2);

export function cnnLayout(spec: CnnSpec, cfg: Pick<PlanConfig, 'batch' | 'precision' | 'optimizer' | 'checkpoint'>): CnnLayout {
  if (cfg.checkpoint === 'selective') throw new EstimateError(`framework vramlab: ${spec.name} has no attention to recompute selectively; use --checkpoint none, full or sqrt`);
  const amp = cfg.precision !== 'fp32';
  const graph = cnnGraph(spec, cfg.batch);
  const program = cnnProgram(graph, cfg.checkpoint);
  const fp32 = graph.params.reduce((a, p) => a + 4 * p.n, 0);
  const copies = amp ? graph.params.reduce((a, p) => a + (p.matmul ? storageBytes(p.n, true) : 0), 0) : 0;
  const running = graph.running.reduce((a, r) => a + 8 * r.C, 0);
  const persistent = zeroCategories();
  persistent.weights = (amp ? copies : fp32) + running;
  persistent.masterWeights = amp ? fp32 : 0;
  persistent.optimizer = states(cfg.optimizer) * fp32;
  persistent.inputs = storageBytes(graph.tensors[CNN_IMAGES]!.elems, amp) + 4 * cfg.batch;
  persistent.workspace = ENGINE_WORKSPACE_BYTES;
  const tensorBytes = (t: number) => {
    const x = graph.tensors[t]!;
    return x.storage === 'f32' ? 4 * x.elems : storageBytes(x.elems, amp);
  };
  return { graph, program, persistent, tensorBytes, gradBytes: (t) => 4 * graph.tensors[t]!.elems, paramGradBytes: (p) => 4 * graph.params[p]!.n };
}

export interface CnnOpPoint {
  label: string;
  op: string;
  at: OpMoment;
  phase: Phase;
  live: CategoryBytes;
}

/**
 * The program's live bytes, as the ledger records them: a point after every allocation and
 * free (and one before the step), the peak the first point of the largest total, the most each
 * category holds; and per ledger op its largest moment ('max') and its end ('end').
 */
export function cnnWalk(lay: CnnLayout): { points: { label: string; phase: Phase; live: CategoryBytes }[]; opPoints: CnnOpPoint[]; peakIndex: number } {
  const live = { ...lay.persistent };
  const points: { label: string; phase: Phase; live: CategoryBytes }[] = [{ label: 'start of step', phase: 'forward', live: { ...live } }];
  const opPoints: CnnOpPoint[] = [];
  let op = { label: 'start of step', phase: 'forward' as Phase };
  let opMax: CategoryBytes | null = null;
  const total = (c: CategoryBytes) => Object.values(c).reduce((a, b) => a + b, 0);
  const closeOp = () => {
    if (opMax) opPoints.push({ label: op.label, op: op.label, at: 'max', phase: op.phase, live: opMax }, { label: op.label, op: op.label, at: 'end', phase: op.phase, live: { ...live } });
  };
  const change = (cat: PlanCategory, bytes: number) => {
    live[cat] += bytes;
    const snap = { ...live };
    points.push({ label: op.label, phase: op.phase, live: snap });
    if (!opMax || total(snap) > total(opMax)) opMax = snap;
  };
  const paramGrads: number[] = [];
  for (const c of lay.program) {
    if (c.k === 'op') {
      closeOp();
      // The plan's timeline has no recompute phase: a recompute belongs to backward.
      op = { label: c.label, phase: c.phase === 'recompute' ? 'backward' : c.phase };
      opMax = { ...live };
    } else if (c.k === 'alloc') change('activations', lay.tensorBytes(c.t));
    else if (c.k === 'free') change('activations', -lay.tensorBytes(c.t));
    else if (c.k === 'allocGrad') change('activationGrads', lay.gradBytes(c.t));
    else if (c.k === 'freeGrad') change('activationGrads', -lay.gradBytes(c.t));
    else if (c.k === 'paramGrad') {
      paramGrads.push(c.p);
      change('gradients', lay.paramGradBytes(c.p));
    }
  }
  closeOp();
  op = { label: 'optimizer', phase: 'optimizer' };
  opMax = { ...live };
  for (const p of paramGrads) change('gradients', -lay.paramGradBytes(p));
  closeOp();
  let peakIndex = 0;
  points.forEach((p, i) => {
    if (total(p.live) > total(points[peakIndex]!.live)) peakIndex = i;
  });
  return { points, opPoints, peakIndex };
}
