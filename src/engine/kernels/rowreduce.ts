/**
 * Row reductions (a sum or max over one workgroup) for the kernels that give a workgroup a
 * row (LayerNorm, RMSNorm, cross-entropy, attention): on subgroup operations where the device
 * has the `subgroups` feature (shaders/rowreduce-subgroup.wgsl, 2 barriers), else a tree over
 * workgroup memory (shaders/rowreduce-workgroup.wgsl, log2(WG) + 2 barriers). Both define
 * RowInvocation, rowSum, rowMax and rowMax2 (two maxima at once); a kernel's WGSL is one of
 * them in front of the storage prelude and the kernel's own file, so the per-device module
 * cache keeps one per device.
 */
import subgroupWgsl from '../../../shaders/rowreduce-subgroup.wgsl?raw';
import workgroupWgsl from '../../../shaders/rowreduce-workgroup.wgsl?raw';
import { withStorageWgsl } from './storage.ts';

export const ROW_REDUCTIONS = ['subgroup', 'workgroup'] as const;
export type RowReduction = (typeof ROW_REDUCTIONS)[number];

/**
 * 'subgroup' where the device has the `subgroups` feature and its largest subgroup divides
 * the row workgroup size wg (so every subgroup is full), else 'workgroup'.
 */
export function rowReduction(device: GPUDevice, wg: number): RowReduction {
  if (!device.features.has('subgroups')) return 'workgroup';
  const max = device.adapterInfo?.subgroupMaxSize;
  return max !== undefined && max > 0 && wg % max === 0 ? 'subgroup' : 'workgroup';
}

/** A kernel's full WGSL for a row reduction: the reduction, the storage prelude, the kernel. */
export function withRowReduction(kernelWgsl: string, reduction: RowReduction): string {
  return `${reduction === 'subgroup' ? subgroupWgsl : workgroupWgsl}\n${withStorageWgsl(kernelWgsl)}`;
}
