enable subgroups;

// Row reductions by one workgroup of WG invocations on subgroup operations: the same functions
// as rowreduce-workgroup.wgsl, in 2 barriers instead of log2(WG) + 2. Needs the `subgroups`
// feature, and WG a multiple of the subgroup size (src/engine/kernels/rowreduce.ts checks the
// adapter's subgroupMaxSize), so every subgroup is full.
//
// Nothing here assumes which invocations form a subgroup: each subgroup's first lane leaves
// its subgroup's total at its own local index (every other index holds the identity), then
// lane i of every subgroup combines indices i, i + size, i + 2·size, … and a second subgroup
// operation combines the lanes, so every subgroup sees all WG entries, each once, in the same
// order: every invocation gets the same total, the same every run.

// Uniform per workgroup (a struct of uniform builtins only, so loops over width stay uniform).
struct RowGroup {
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(subgroup_size) width: u32,
}

struct RowInvocation {
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
}

var<workgroup> rowScratch: array<vec2f, WG>;

// Σ v over the workgroup; every invocation gets it. Call in uniform control flow.
fn rowSum(v: vec2f, grp: RowGroup, inv: RowInvocation) -> vec2f {
  let t = subgroupAdd(v);
  rowScratch[inv.lid] = select(vec2f(0.0), t, inv.lane == 0u);
  workgroupBarrier();
  var s = vec2f(0.0);
  for (var base = 0u; base < WG; base += grp.width) {
    s += rowScratch[base + inv.lane];
  }
  let total = subgroupAdd(s);
  workgroupBarrier();
  return total;
}

// The lowest finite f32, the identity of max here.
const ROW_LOWEST: f32 = -3.4028234663852886e38;

// max of v over the workgroup; as rowSum.
fn rowMax(v: f32, grp: RowGroup, inv: RowInvocation) -> f32 {
  let t = subgroupMax(v);
  rowScratch[inv.lid].x = select(ROW_LOWEST, t, inv.lane == 0u);
  workgroupBarrier();
  var m = ROW_LOWEST;
  for (var base = 0u; base < WG; base += grp.width) {
    m = max(m, rowScratch[base + inv.lane].x);
  }
  let total = subgroupMax(m);
  workgroupBarrier();
  return total;
}

// max of each component of v over the workgroup (two rows at once); as rowSum.
fn rowMax2(v: vec2f, grp: RowGroup, inv: RowInvocation) -> vec2f {
  let t = subgroupMax(v);
  rowScratch[inv.lid] = select(vec2f(ROW_LOWEST), t, inv.lane == 0u);
  workgroupBarrier();
  var m = vec2f(ROW_LOWEST);
  for (var base = 0u; base < WG; base += grp.width) {
    m = max(m, rowScratch[base + inv.lane]);
  }
  let total = subgroupMax(m);
  workgroupBarrier();
  return total;
}
