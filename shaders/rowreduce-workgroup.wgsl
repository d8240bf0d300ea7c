// Row reductions by one workgroup of WG invocations (WG a power of two), without subgroups:
// a tree over workgroup memory, log2(WG) barriers. The kernel declares the override WG and
// takes its row entry points' builtins as a RowGroup and a RowInvocation. The twin with the same
// functions on subgroup operations is rowreduce-subgroup.wgsl; src/engine/kernels/rowreduce.ts
// puts one of the two in front of a kernel's WGSL.

// Uniform per workgroup: a struct of uniform builtins only.
struct RowGroup {
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
}

struct RowInvocation {
  @builtin(local_invocation_index) lid: u32,
}

var<workgroup> rowScratch: array<vec2f, WG>;

// Σ v over the workgroup, in a fixed tree order; every invocation gets it. Call in uniform
// control flow; the closing barrier lets the scratch be reused at once.
fn rowSum(v: vec2f, grp: RowGroup, inv: RowInvocation) -> vec2f {
  rowScratch[inv.lid] = v;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (inv.lid < half) {
      rowScratch[inv.lid] += rowScratch[inv.lid + half];
    }
  }
  workgroupBarrier();
  let total = rowScratch[0];
  workgroupBarrier();
  return total;
}

// max of v over the workgroup; as rowSum.
fn rowMax(v: f32, grp: RowGroup, inv: RowInvocation) -> f32 {
  rowScratch[inv.lid].x = v;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (inv.lid < half) {
      rowScratch[inv.lid].x = max(rowScratch[inv.lid].x, rowScratch[inv.lid + half].x);
    }
  }
  workgroupBarrier();
  let total = rowScratch[0].x;
  workgroupBarrier();
  return total;
}

// max of each component of v over the workgroup (two rows at once); as rowSum.
fn rowMax2(v: vec2f, grp: RowGroup, inv: RowInvocation) -> vec2f {
  rowScratch[inv.lid] = v;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (inv.lid < half) {
      rowScratch[inv.lid] = max(rowScratch[inv.lid], rowScratch[inv.lid + half]);
    }
  }
  workgroupBarrier();
  let total = rowScratch[0];
  workgroupBarrier();
  return total;
}
