/**
 * The planner's public API: pure TypeScript, no DOM, no GPU. Runs in the page, the worker
 * and Node alike.
 */
export { estimate } from './plan.ts';
export { MODEL_IDS, listModels, nativeImageSize, type ModelInfo } from './presets.ts';
export { GPU_CATALOG, fitList, type GpuSpec } from './gpus.ts';
export { EstimateError } from './errors.ts';
export { makeItFit, describeCost, FIT_LEVERS, COST_KINDS, type FitResult, type FitSuggestion, type FitCost, type FitLever, type FitOptions, type LargestFit, type PlanPatch } from './fit.ts';
export { stepWork, ELEMENT_FLOPS } from './vramlab-work.ts';
// For the package's library users (`import { estimate, DEFAULT_PLAN } from 'vramlab'`): a
// config starts from the defaults, and a config from outside is checked before use.
export { DEFAULT_PLAN, parsePlanConfig, ConfigError, type PlanConfig } from '../protocol/config.ts';
export type { Plan, PlanCategory, CategoryBytes } from '../protocol/plan.ts';
