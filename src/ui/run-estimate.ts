/**
 * The planner's estimates of exactly the configuration a run measures, so a measurement is only
 * ever drawn beside estimates of itself (a scaled-down run beside the scaled estimate).
 */
import { estimate } from '../estimate/index.ts';
import type { EngineRunConfig } from '../protocol/engine-api.ts';
import type { Plan } from '../protocol/plan.ts';
import { planConfigOfRun } from '../protocol/run.ts';

/** The planner's framework-vramlab plan for a run: what the engine's ledger will measure. */
export function estimateRun(c: EngineRunConfig): Plan {
  return estimate(planConfigOfRun(c));
}

/** The planner's PyTorch plan for the same shapes: what a PyTorch eager step of this model would allocate. */
export function estimateRunPytorch(c: EngineRunConfig): Plan {
  return estimate({ ...planConfigOfRun(c), framework: 'pytorch' });
}
