/**
 * The planner's estimates of exactly the configuration a run measures, so a measurement is only
 * ever drawn beside estimates of itself (a scaled-down run beside the scaled estimate).
 */
import { estimate } from '../estimate/index.ts';
import { isCnnRun, planConfigOfCnn } from '../protocol/cnn.ts';
import type { PlanConfig } from '../protocol/config.ts';
import type { EngineRunConfig } from '../protocol/engine-api.ts';
import type { Plan } from '../protocol/plan.ts';
import { planConfigOfRun } from '../protocol/run.ts';

/** The planner configuration of any run the engine trains (mlp, GPT, Llama or CNN). */
export function planConfigOfEngineRun(c: EngineRunConfig): PlanConfig {
  return isCnnRun(c) ? planConfigOfCnn(c) : planConfigOfRun(c);
}

/** The planner's framework-vramlab plan for a run: what the engine's ledger will measure. */
export function estimateRun(c: EngineRunConfig): Plan {
  return estimate(planConfigOfEngineRun(c));
}

/** The planner's PyTorch plan for the same shapes: what a PyTorch eager step of this model would allocate. */
export function estimateRunPytorch(c: EngineRunConfig): Plan {
  return estimate({ ...planConfigOfEngineRun(c), framework: 'pytorch' });
}
