/**
 * What PyTorch eager keeps for backward when it trains the engine's CNNs (estimate/cnn.ts
 * describes their layers): cnn-mnist as LeNet-5 with F.relu (not in place) and
 * nn.MaxPool2d(2); cnn-cifar as the usual CIFAR ResNet in the style of torchvision's
 * BasicBlock (BatchNorm2d, ReLU(inplace=True), `out += shortcut; out = relu(out)`).
 *
 * What autograd saves, per op (PyTorch ≥ 2.1, cuDNN):
 * - conv2d and linear: their input (under autocast a 16-bit cast: the images are cast anew,
 *   the other inputs are 16-bit already) and the cached 16-bit weight (castBytes);
 * - batch_norm (training): its input and save_mean, save_invstd (fp32 per channel); under
 *   autocast it runs in the input's 16-bit dtype with fp32 γ, β;
 * - relu: its output (in place on BatchNorm's output in the ResNet: that tensor is kept);
 * - max_pool2d: its input and the argmax indices, int64 per output value;
 * - adaptive_avg_pool2d: its input (the last block's output, kept anyway);
 * - cross_entropy: under autocast the logits cast to fp32, and log_softmax's fp32 output.
 * These are the tensors the engine's own layout needs too (nodeIo): the same description
 * gives both estimates, with PyTorch's dtypes and its extra indices.
 *
 * cuDNN convolution workspace: cuDNN's algorithms ask for scratch memory of their own (the
 * implicit-GEMM ones little, FFT and some Winograd variants up to an im2col-sized buffer);
 * PyTorch allocates it from the caching allocator for the duration of the call. Counted here,
 * as its own line, as one im2col buffer of the largest convolution (N·OH·OW × Cin·k² values
 * of the compute dtype): an upper estimate of what the default heuristics pick
 * (cudnnGetConvolutionForwardAlgorithm_v7 ranks by speed within the workspace limit).
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { DtypePlan } from './dtypes.ts';
import { CNN_IMAGES, type CnnGraph, cnnGraph, nodeIo } from './cnn.ts';
import type { Inventory, ParamTensor } from './params.ts';
import type { Unit } from './schedule.ts';
import type { CnnSpec } from './specs.ts';

/** Parameters by unit (block = unit index), and BatchNorm's buffers: running mean and var (fp32) and num_batches_tracked (int64). */
export function cnnInventory(spec: CnnSpec): Inventory {
  const g = cnnGraph(spec, 1);
  const blockOf = new Map<number, number>();
  for (const n of g.nodes) for (const p of nodeIo(n).params) blockOf.set(p, n.unit);
  const tensors: ParamTensor[] = g.params.map((p, i) => ({ name: p.name, rows: 1, cols: p.n, block: blockOf.get(i)!, matmul: p.matmul, loraTarget: false }));
  return { tensors, bufferBytes: g.running.reduce((a, r) => a + 8 * r.C + 8, 0), tiedHeadElems: 0 };
}

/** The largest convolution's im2col buffer, in bytes of the compute dtype. */
export function cnnConvWorkspace(g: CnnGraph, dt: DtypePlan): number {
  let most = 0;
  for (const n of g.nodes) {
    if (n.op !== 'conv') continue;
    const { N, cin, H, W, k, stride, pad } = n.g;
    const OH = Math.floor((H + 2 * pad - k) / stride) + 1;
    const OW = Math.floor((W + 2 * pad - k) / stride) + 1;
    most = Math.max(most, N * OH * OW * cin * k * k * dt.compute);
  }
  return most;
}

/** Units of a PyTorch training step of spec, in the engine's unit grouping (so checkpointing drops the same units). */
export function cnnTorchUnits(spec: CnnSpec, cfg: PlanConfig, dt: DtypePlan, grads: (block: number) => number, casts: (block: number) => number): Unit[] {
  const b = cfg.microBatch ?? cfg.batch;
  const g = cnnGraph(spec, b);
  const c = dt.compute;
  const io = g.nodes.map(nodeIo);
  const bytes = (t: number) => (g.tensors[t]!.storage === 'f32' ? 4 : c) * g.tensors[t]!.elems;
  const producer = new Map<number, number>();
  io.forEach((x, i) => x.writes.forEach((t) => producer.set(t, i)));
  const needed = new Set(io.flatMap((x) => x.needs));
  const units: Unit[] = [];
  g.units.forEach((u, ui) => {
    const nodes = g.nodes.map((n, i) => (n.unit === ui ? i : -1)).filter((i) => i >= 0);
    let saved = 0;
    let transient = 0;
    let largest = 0;
    let input = 0;
    for (const i of nodes) {
      const n = g.nodes[i]!;
      for (const t of io[i]!.writes) {
        largest = Math.max(largest, bytes(t));
        if (needed.has(t)) saved += bytes(t);
        else transient = Math.max(transient, bytes(t));
      }
      // Under autocast the conv that reads the images saves its own 16-bit cast of them.
      if (n.op === 'conv' && n.x === CNN_IMAGES && dt.autocast) saved += c * g.tensors[CNN_IMAGES]!.elems;
      if (n.op === 'maxpool') saved += 8 * g.tensors[n.y]!.elems;
      for (const t of io[i]!.reads) if (producer.has(t) && g.nodes[producer.get(t)!]!.unit !== ui) input = Math.max(input, bytes(t));
    }
    const loss = g.nodes.find((n, i) => n.op === 'loss' && nodes.includes(i));
    const logits32 = loss && loss.op === 'loss' ? 4 * loss.rows * loss.classes : 0;
    units.push({
      name: u.name,
      category: 'activations',
      saved,
      selective: 0,
      checkpointInput: input,
      fwdTransient: transient,
      // The incoming gradient, the one being made and the residual branch's.
      bwdTransient: 3 * largest,
      castBytes: casts(ui),
      gradBytes: grads(ui),
      recomputable: u.recomputable,
    });
    if (logits32 > 0) {
      units.push({
        name: 'cross-entropy loss',
        category: 'logits',
        saved: logits32 * (dt.autocast ? 2 : 1),
        selective: 0,
        checkpointInput: 0,
        fwdTransient: 0,
        bwdTransient: 2 * logits32,
        castBytes: 0,
        gradBytes: 0,
        recomputable: false,
      });
    }
  });
  return units;
}

/** Forward FLOPs: 2·N·Cout·OH·OW·Cin·k² per conv and 2·rows·in·out per linear; body = the recomputable units. */
export function cnnForwardFlops(spec: CnnSpec, batch: number): { body: number; other: number } {
  const g = cnnGraph(spec, batch);
  let body = 0;
  let other = 0;
  for (const n of g.nodes) {
    let f = 0;
    if (n.op === 'conv') {
      const { N, cin, H, W, cout, k, stride, pad } = n.g;
      f = 2 * N * cout * (Math.floor((H + 2 * pad - k) / stride) + 1) * (Math.floor((W + 2 * pad - k) / stride) + 1) * cin * k * k;
    } else if (n.op === 'linear') f = 2 * n.rows * n.inF * n.outF;
    if (g.units[n.unit]!.recomputable) body += f;
    else other += f;
  }
  return { body, other };
}
