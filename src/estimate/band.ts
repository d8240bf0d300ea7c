/**
 * A band around the total: the same peak with the overheads at the ends of their observed
 * ranges, so a user sees how much margin to keep. Each bound says what it assumes.
 */
import type { PlanBand } from '../protocol/plan.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** CUDA context with cuBLAS/cuDNN: 300 MiB (a lean start) to 2 GiB (large kernels, many libraries). */
export const CUDA_CONTEXT_RANGE = { low: 300 * MiB, high: 2 * GiB } as const;
/** Caching allocator reserve over allocated: 0 (a tidy run) to 15 % (fragmented, mixed sizes). */
export const ALLOCATOR_RANGE = { low: 0, high: 0.15 } as const;
/**
 * NCCL's own buffers per process group: NCCL_BUFFSIZE 4 MiB for the Simple protocol, ~4.5 MiB
 * for LL128, ~0.25 MiB for LL, per channel and per peer; a ring has 2 peers; 16 channels.
 */
export const NCCL_GROUP_BYTES = 2 * 16 * 9 * MiB;

/**
 * low: the context at 300 MiB, no allocator reserve, no NCCL buffers; expected: the plan's
 * total; high: a 2 GiB context, a 15 % reserve, NCCL buffers for each process group.
 */
export function planBand(peakBytes: number, expectedBytes: number, processGroups: number): PlanBand {
  const low = peakBytes + CUDA_CONTEXT_RANGE.low + Math.round(peakBytes * ALLOCATOR_RANGE.low);
  const high = peakBytes + CUDA_CONTEXT_RANGE.high + Math.round(peakBytes * ALLOCATOR_RANGE.high) + processGroups * NCCL_GROUP_BYTES;
  return {
    low: { bytes: Math.min(low, expectedBytes), assumes: 'CUDA context 300 MiB, no allocator reserve, no NCCL buffers' },
    expected: { bytes: expectedBytes, assumes: 'CUDA context 500 MiB, allocator reserve 6 % of the peak' },
    high: {
      bytes: Math.max(high, expectedBytes),
      assumes: `CUDA context 2 GiB, allocator reserve 15 % of the peak${processGroups > 0 ? `, NCCL buffers of ${processGroups} process group${processGroups === 1 ? '' : 's'} (2 peers × 16 channels × 9 MiB each)` : ''}`,
    },
  };
}
