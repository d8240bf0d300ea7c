/**
 * GPU catalog for the fit list. Memory is the usable capacity the driver reports
 * (nvidia-smi "MiB" × 2^20), not the marketing GB figure, so "fits" means fits on the card.
 * Sources: nvidia-smi output (H100 and H200 read on this project's GPU machines; the others
 * from published nvidia-smi listings); the name keeps the nominal GB of the datasheet.
 */
import type { GpuFit } from '../protocol/plan.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export interface GpuSpec {
  id: string;
  name: string;
  /** Bytes the driver exposes to CUDA. */
  memoryBytes: number;
  /** A MIG slice: the card it is cut from and its profile name. */
  mig?: { card: string; profile: string };
}

/**
 * MIG slices at the memory `nvidia-smi mig -lgip` reports for each GPU instance profile (GiB,
 * two decimals: what CUDA sees inside the slice), per the NVIDIA MIG user guide's profiles:
 * A100 40 GB 1g.5gb … 7g.40gb; A100 80 GB and H100 80 GB 1g.10gb … 7g.80gb.
 */
const MIG_PROFILES: readonly { card: string; cardName: string; slices: readonly [string, number][] }[] = [
  { card: 'a100-40gb', cardName: 'A100 40 GB', slices: [['1g.5gb', 4.75], ['2g.10gb', 9.75], ['3g.20gb', 19.62], ['4g.20gb', 19.62], ['7g.40gb', 39.5]] },
  { card: 'a100-80gb', cardName: 'A100 80 GB', slices: [['1g.10gb', 9.5], ['1g.20gb', 19.5], ['2g.20gb', 19.5], ['3g.40gb', 39.25], ['4g.40gb', 39.25], ['7g.80gb', 78.75]] },
  { card: 'h100-80gb', cardName: 'H100 80 GB', slices: [['1g.10gb', 9.75], ['1g.20gb', 19.62], ['2g.20gb', 19.62], ['3g.40gb', 39.5], ['4g.40gb', 39.5], ['7g.80gb', 79.25]] },
];

/** "a100-80gb-mig-3g-40gb", "A100 80 GB MIG 3g.40gb". */
export const MIG_SLICES: readonly GpuSpec[] = MIG_PROFILES.flatMap((c) =>
  c.slices.map(([profile, gib]) => ({
    id: `${c.card}-mig-${profile.replace('.', '-')}`,
    name: `${c.cardName} MIG ${profile}`,
    memoryBytes: Math.round(gib * 1024) * MiB,
    mig: { card: c.card, profile },
  })),
);

/** Whole cards, smallest first. */
export const WHOLE_GPUS: readonly GpuSpec[] = [
  { id: 'rtx-3060', name: 'RTX 3060 12 GB', memoryBytes: 12288 * MiB },
  { id: 't4', name: 'T4 16 GB', memoryBytes: 15360 * MiB },
  { id: 'rtx-3090', name: 'RTX 3090 24 GB', memoryBytes: 24576 * MiB },
  { id: 'rtx-4090', name: 'RTX 4090 24 GB', memoryBytes: 24564 * MiB },
  { id: 'l4', name: 'L4 24 GB', memoryBytes: 23034 * MiB },
  { id: 'rtx-5090', name: 'RTX 5090 32 GB', memoryBytes: 32607 * MiB },
  { id: 'a100-40gb', name: 'A100 40 GB', memoryBytes: 40960 * MiB },
  { id: 'a100-80gb', name: 'A100 80 GB', memoryBytes: 81920 * MiB },
  { id: 'h100-80gb', name: 'H100 80 GB', memoryBytes: 81559 * MiB },
  { id: 'h200', name: 'H200 141 GB', memoryBytes: 143771 * MiB },
  { id: 'mi300x', name: 'MI300X 192 GB', memoryBytes: 192 * GiB },
];

/** Whole cards, then the MIG slices of the cards that have them. */
export const GPU_CATALOG: readonly GpuSpec[] = [...WHOLE_GPUS, ...MIG_SLICES];

/** The one rule for "fits": what the step needs (peak + context + allocator overhead) ≤ the card's bytes. */
export function fitsIn(needBytes: number, memoryBytes: number): boolean {
  return needBytes <= memoryBytes;
}

/** The card the page's verdict is for until another is chosen: the common 24 GB desktop card. */
export const DEFAULT_GPU_ID = 'rtx-4090';

/** The catalog's ids, in catalog order (whole cards smallest first, then MIG slices): what a URL may name. */
export const GPU_IDS: readonly string[] = GPU_CATALOG.map((g) => g.id);

/** The card a verdict is for: a catalog GPU, or a size the user typed. */
export interface ChosenGpu {
  /** A catalog id, or 'custom' for a typed size. */
  id: string;
  /** As the fit list names it, so the verdict and the list agree. */
  name: string;
  memoryBytes: number;
}

/**
 * The chosen card of a plan config: `gpuMemoryGiB` (a typed size) when set, else the catalog GPU
 * `gpu` names, else DEFAULT_GPU_ID. An id not in the catalog falls back to the default, so a
 * config that passed the schema always has a card.
 */
export function chosenGpu(c: { gpu?: string; gpuMemoryGiB?: number }): ChosenGpu {
  if (c.gpuMemoryGiB !== undefined) return { id: 'custom', name: userGpuName(c.gpuMemoryGiB), memoryBytes: Math.round(c.gpuMemoryGiB * GiB) };
  const g = GPU_CATALOG.find((x) => x.id === c.gpu) ?? GPU_CATALOG.find((x) => x.id === DEFAULT_GPU_ID)!;
  return { id: g.id, name: g.name, memoryBytes: g.memoryBytes };
}

const userGpuName = (gib: number): string => `your GPU (${gib} GiB)`;

/**
 * Which GPUs hold `needBytes` (peak + context + allocator overhead); a user-given size last.
 * With host memory in play (`hostFits` given), a GPU fits only when the host budget holds too.
 */
export function fitList(needBytes: number, userGiB?: number, hostFits?: boolean): GpuFit[] {
  const gpus = [...GPU_CATALOG.map((g) => ({ gpu: g.name, memoryBytes: g.memoryBytes }))];
  if (userGiB !== undefined) gpus.push({ gpu: userGpuName(userGiB), memoryBytes: Math.round(userGiB * GiB) });
  return gpus.map((g) => ({
    ...g,
    fits: fitsIn(needBytes, g.memoryBytes) && hostFits !== false,
    headroomBytes: g.memoryBytes - needBytes,
    ...(hostFits === undefined ? {} : { hostFits }),
  }));
}
