/**
 * The ledger as plain data: what the engine records about every GPUBuffer it owns, in a form
 * that survives structured clone (worker → UI) and JSON (CLI reports). The allocator itself
 * is src/engine/ledger.ts; this file holds only names and shapes.
 */
import type { PlanCategory } from './plan.ts';

/**
 * What a buffer holds. Every ledger entry has exactly one, so the live bytes of a step split
 * into these without overlap. Names are kebab-case because they appear in reports and on screen.
 */
export const LEDGER_CATEGORIES = [
  'weights',
  'master-weights',
  'gradients',
  'optimizer',
  'activations',
  'activation-grads',
  'inputs',
  'workspace',
  'staging',
] as const;
export type LedgerCategory = (typeof LEDGER_CATEGORIES)[number];
/** Bytes per ledger category; every category present, 0 when it holds nothing. */
export type LedgerBytes = Record<LedgerCategory, number>;

/**
 * Where each measured category is drawn next to the estimate. The planner has no 'staging'
 * (readback and upload buffers are transient scratch), so it counts as workspace; the
 * planner's logits and kvCache have no ledger category of their own (logits are activations
 * of the last layer here, and training keeps no KV cache).
 */
export const LEDGER_TO_PLAN_CATEGORY: Readonly<Record<LedgerCategory, PlanCategory>> = {
  weights: 'weights',
  'master-weights': 'masterWeights',
  gradients: 'gradients',
  optimizer: 'optimizer',
  activations: 'activations',
  'activation-grads': 'activationGrads',
  inputs: 'inputs',
  workspace: 'workspace',
  staging: 'workspace',
};

/**
 * LoRA's tensors have no category of their own: they are weights, gradients, optimizer states
 * and activations like any other, so every chart, estimate and export that splits bytes by
 * category counts them where they belong. Their names say what they are instead
 * (engine/graph/lora.ts): `<projection>.lora_A` / `.lora_B` the adapters (trainable weights),
 * with `.grad` their gradients and `.m`, `.v`, `.momentum` their optimizer states;
 * `.lora_xa` the s·(x·A) kept for backward, `.lora_xaB`, `.lora_dxa`, `.lora_dx` transients.
 * Under LoRA everything else in 'weights' is the frozen base; under QLoRA its projections
 * are `<projection>.nf4` (codes) and `<projection>.absmax` (block scales).
 */
export const LORA_ADAPTER = /\.lora_[AB](?:\.|$)/;

/** Whether a ledger tensor belongs to a LoRA adapter (its weights, gradient, states or activations). */
export function isLoraTensor(name: string): boolean {
  return /\.lora_/.test(name);
}

export function isLedgerCategory(value: unknown): value is LedgerCategory {
  return typeof value === 'string' && (LEDGER_CATEGORIES as readonly string[]).includes(value);
}

export function zeroLedgerBytes(): LedgerBytes {
  return {
    weights: 0,
    'master-weights': 0,
    gradients: 0,
    optimizer: 0,
    activations: 0,
    'activation-grads': 0,
    inputs: 0,
    workspace: 0,
    staging: 0,
  };
}

/**
 * `Error.name` values of allocation failures (names, not classes, because errors cross the
 * worker boundary through Comlink). Both carry a sentence saying which tensor and what to change.
 */
export const LEDGER_ERRORS = {
  /** The size is over a device limit (maxBufferSize, maxStorageBufferBindingSize), or the device rejected it. */
  BufferTooLarge: 'BufferTooLarge',
  /** The device could not find the memory for the buffer. */
  OutOfMemory: 'OutOfMemory',
} as const;
export type LedgerErrorName = (typeof LEDGER_ERRORS)[keyof typeof LEDGER_ERRORS];

/** One buffer the engine created, live or destroyed. */
export interface LedgerEntry {
  /** Creation order within the ledger, from 0. */
  id: number;
  /** Tensor name, e.g. 'h0.attn.qkv.weight'; the buffer's label is `Ledger.<name>`. */
  name: string;
  category: LedgerCategory;
  /** Bytes the caller asked for. */
  requested: number;
  /** Bytes handed to createBuffer: requested rounded up to a multiple of 4. */
  allocated: number;
  /** Op index current when the buffer was created (-1: before the first op). */
  createdAt: number;
  /** Op index current when it was destroyed; null while it lives. */
  destroyedAt: number | null;
}

export const LEDGER_EVENT_KINDS = ['create', 'destroy'] as const;
export type LedgerEventKind = (typeof LEDGER_EVENT_KINDS)[number];

/** The ledger just after one create or destroy: one point per event, in the order they happened. */
export interface LedgerPoint {
  /** Op index current at the event (-1: before the first op). */
  op: number;
  /** Label of that op, e.g. 'forward h3.mlp' ('' when none was given). */
  label: string;
  event: LedgerEventKind;
  /** The tensor created or destroyed, its category and requested bytes. */
  name: string;
  category: LedgerCategory;
  requested: number;
  /** Live bytes as requested, after the event. */
  liveBytes: number;
  /** Live bytes as allocated (after rounding), after the event. */
  liveAllocatedBytes: number;
  /** Live requested bytes per category, after the event. */
  byCategory: LedgerBytes;
}
