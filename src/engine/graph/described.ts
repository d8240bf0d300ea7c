/**
 * A trainer whose model is a ModelDescription (src/estimate/describe.ts): every parameter and
 * every tensor it allocates comes from the description by name, with the bytes and category
 * given there, so the ledger of a run is what the planner's framework-vramlab estimate reads.
 */
import type { LedgerCategory } from '../../protocol/ledger.ts';
import { ENGINE_OP } from '../../estimate/vramlab.ts';
import { type ModelDescription, type ParamDesc, type ParamInit, type UnitDesc, frozenTensors, tensorOf } from '../../estimate/describe.ts';
import { quantizeNf4 } from '../kernels/nf4.ts';
import { packHalf } from '../kernels/storage.ts';
import { uniform } from '../rng.ts';
import type { FrozenWeight } from './lora.ts';
import { type Param, Trainer } from './trainer.ts';

/** n initial values of a parameter, drawn from `rand` when random. */
export function initialValues(init: ParamInit, rand: () => number, n: number): Float32Array {
  switch (init.kind) {
    case 'uniform':
      return uniform(rand, n, init.std * Math.sqrt(3));
    case 'bound':
      return uniform(rand, n, init.bound);
    case 'ones':
      return new Float32Array(n).fill(1);
    case 'zeros':
      return new Float32Array(n);
  }
}

export abstract class DescribedTrainer extends Trainer {
  abstract readonly desc: ModelDescription;
  private readonly byName = new Map<string, Param>();
  private readonly frozenByName = new Map<string, GPUBuffer>();

  /**
   * Every parameter of the description, in its order: trained ones with their master, copy
   * and states (Trainer.param), frozen ones in their storage. Values come from `rand`, an
   * adapter's from `adapterRand`, so a LoRA run's base and data are the full model's.
   */
  protected async allocateParams(rand: () => number, adapterRand: () => number = rand): Promise<void> {
    for (const d of this.desc.params) {
      const values = (n: number) => initialValues(d.init, d.role === 'adapter' ? adapterRand : rand, n);
      if (d.role === 'frozen') await this.allocateFrozen(d, () => values(d.n));
      else this.byName.set(d.name, await this.param(d.name, d.n, values, d.matmul, d.role === 'adapter'));
    }
  }

  /** A frozen parameter's tensors; its values are drawn once its first buffer exists (as Trainer.param does). */
  private async allocateFrozen(d: ParamDesc, values: () => Float32Array): Promise<void> {
    const [first, second] = frozenTensors(d);
    const stored = d.stored ?? 'f32';
    if (stored === 'nf4') {
      let q!: ReturnType<typeof quantizeNf4>;
      this.frozenByName.set(first!.name, await this.frozen(first!.name, first!.bytes, () => (q = quantizeNf4(values())).codes));
      this.frozenByName.set(second!.name, await this.frozen(second!.name, second!.bytes, () => q.absmax));
      return;
    }
    const act = this.act;
    if (stored === 'packed16' && act === 'f32') throw new Error(`${this.constructor.name}: ${d.name} is described packed 16-bit in an fp32 run`);
    const buf = await this.frozen(first!.name, first!.bytes, () => (stored === 'packed16' && act !== 'f32' ? packHalf(values(), act) : values()));
    this.frozenByName.set(first!.name, buf);
    // A frozen fp32 tensor is read where a trained one's master would be.
    if (stored === 'f32') this.byName.set(d.name, { name: d.name, n: d.n, arena: null, master: buf, half: null, m: null, v: null });
  }

  /** A trained parameter, or a frozen fp32 one in the shape of a Param. */
  protected p(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new Error(`${this.constructor.name}: no parameter '${name}'`);
    return p;
  }

  /** A frozen tensor by its ledger name (describe.ts frozenTensors). */
  protected frozenBuffer(name: string): GPUBuffer {
    const b = this.frozenByName.get(name);
    if (!b) throw new Error(`${this.constructor.name}: no frozen tensor '${name}'`);
    return b;
  }

  /** A frozen projection's base as a LoraLinear reads it (lora.ts): dense in its storage, or NF4 codes and scales. */
  protected frozenWeight(name: string): FrozenWeight {
    const d = this.desc.params.find((p) => p.name === name && p.role === 'frozen');
    if (!d) throw new Error(`${this.constructor.name}: no frozen parameter '${name}'`);
    const [main, scales] = frozenTensors(d).map((t) => this.frozenBuffer(t.name));
    return d.stored === 'nf4' ? { kind: 'nf4', codes: main!, absmax: scales! } : { kind: 'dense', buf: main!, storage: d.stored === 'packed16' ? this.act : 'f32' };
  }

  /**
   * The decoders' task (category inputs): token ids counting up modulo the vocabulary from a
   * random start per sequence, each token's target the next one, so a model that learns
   * "add one" drives the loss to 0.
   */
  protected async countingTask(rand: () => number, shape: { vocab: number; batch: number; seq: number }): Promise<{ ids: GPUBuffer; targets: GPUBuffer }> {
    const { vocab: V, batch, seq: S } = shape;
    const rows = batch * S;
    const ids = new Uint32Array(rows);
    const targets = new Uint32Array(rows);
    for (let b = 0; b < batch; b++) {
      const start = Math.floor(rand() * V);
      for (let t = 0; t < S; t++) {
        ids[b * S + t] = (start + t) % V;
        targets[b * S + t] = (start + t + 1) % V;
      }
    }
    if (this.desc.inputBytes !== 2 * 4 * rows) throw new Error(`model description: inputs are ${this.desc.inputBytes} B, the task's ids and targets ${2 * 4 * rows} B`);
    const out = { ids: await this.buffer('ids', 'inputs', 4 * rows), targets: await this.buffer('targets', 'inputs', 4 * rows) };
    this.device.queue.writeBuffer(out.ids, 0, ids);
    this.device.queue.writeBuffer(out.targets, 0, targets);
    return out;
  }

  /**
   * A tensor of a unit, with the name, bytes and category the description gives it. `tag`
   * marks a second making of it (a recompute) in the ledger's name, so each keeps its own
   * buffer from step to step (Ledger lastBuffer) and the bind groups repeat.
   */
  protected t(unit: UnitDesc, name: string, tag = ''): Promise<GPUBuffer> {
    const d = tensorOf(unit, name);
    return this.buffer(name + tag, d.category, d.bytes);
  }

  /**
   * A tensor of a unit asked for by a module that sizes its own (lora.ts): allocated as the
   * description gives it, and refused if the module's idea of it differs.
   */
  protected checkedTensor(unit: UnitDesc, name: string, category: LedgerCategory, bytes: number): Promise<GPUBuffer> {
    const d = tensorOf(unit, name);
    if (d.category !== category || d.bytes !== bytes) throw new Error(`model description: '${name}' is ${d.bytes} B of ${d.category}, asked for ${bytes} B of ${category}`);
    return this.buffer(name, d.category, d.bytes);
  }

  /** Frees every tensor a block kept for backward. */
  protected releaseSaved(s: object): void {
    for (const b of Object.values(s)) if (b) this.ledger.release(b as GPUBuffer);
  }

  /**
   * The decoders' blocks forward under the checkpointing plan (Trainer.plan): a dropped block
   * frees what it saved, and its input unless that is a kept checkpoint; under selective
   * recompute a kept block frees its attention's probabilities (Korthikanti et al. 2022).
   * Returns the last output and, per block, its kept input and saved tensors.
   */
  protected async forwardBlocks<S extends BlockSaved>(x0: GPUBuffer, layers: number, selective: boolean, forward: BlockForward<S>): Promise<DecoderBody<S>> {
    const { dropped, keepsInput } = this.plan;
    const inputs: (GPUBuffer | null)[] = new Array(layers).fill(null);
    const saved: (S | null)[] = new Array(layers).fill(null);
    let x = x0;
    for (let l = 0; l < layers; l++) {
      this.begin(ENGINE_OP.forwardBlock(l));
      const r = await forward(l, x, true);
      if (dropped[l]) {
        this.releaseSaved(r.saved);
        if (!keepsInput[l]) this.ledger.release(x);
      } else {
        saved[l] = r.saved;
        if (selective) {
          this.ledger.release(r.saved.attn!);
          r.saved.attn = null;
        }
      }
      inputs[l] = dropped[l] && !keepsInput[l] ? null : x;
      x = r.x2!;
    }
    return { out: x, inputs, saved };
  }

  /**
   * Before block l's backward, when it was dropped: its segment again from the segment's kept
   * input; the outputs inside become the inputs of the blocks after them, and the last block
   * stops once its backward has what it needs.
   */
  protected async recomputeSegment<S extends BlockSaved>(l: number, body: DecoderBody<S>, forward: BlockForward<S>): Promise<void> {
    const seg = this.plan.segmentOf[l]!;
    let x = body.inputs[seg[0]!]!;
    for (const j of seg) {
      this.begin(ENGINE_OP.recomputeBlock(j));
      const last = j === seg[seg.length - 1];
      const r = await forward(j, x, !last);
      body.saved[j] = r.saved;
      if (!last) {
        body.inputs[j + 1] = r.x2;
        x = r.x2!;
      }
    }
  }
}

/** What a decoder block keeps for backward; `attn` the part selective recompute drops (null once dropped). */
export interface BlockSaved {
  attn: GPUBuffer | null;
}

/** Block l's forward from input x; with `output` false it stops early and returns no x2. */
export type BlockForward<S> = (l: number, x: GPUBuffer, output: boolean) => Promise<{ saved: S; x2: GPUBuffer | null }>;

/** The blocks' state between forward and backward: the last output, each block's kept input and saved tensors. */
export interface DecoderBody<S> {
  out: GPUBuffer;
  inputs: (GPUBuffer | null)[];
  saved: (S | null)[];
}
