// Reduce family: out[j] = Σ_i x[i, j] for x of ROWS×COLS f32, row-major: the bias gradient
// (the column sums of dY). Driven by src/engine/kernels/reduce.ts.
//
// A workgroup owns WG_X neighbouring columns, so the loads of one row are contiguous across
// its invocations; its WG_Y lanes per column sum rows y, y + WG_Y, … and lane 0 adds the
// WG_Y partial sums in a fixed order: the result is deterministic run to run.

override ROWS: u32;
override COLS: u32;
override WG_X: u32 = 32u;
override WG_Y: u32 = 8u;
override WG_SIZE: u32 = WG_X * WG_Y;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WG_SIZE>;

@compute @workgroup_size(WG_X, WG_Y)
fn column_sum(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let col = (wid.y * groups.x + wid.x) * WG_X + lid.x;
  var s = 0.0;
  if (col < COLS) {
    for (var row = lid.y; row < ROWS; row += WG_Y) {
      s += x[row * COLS + col];
    }
  }
  partial[lid.y * WG_X + lid.x] = s;
  // Every invocation reaches the barrier: the column test above does not return early.
  workgroupBarrier();
  if (lid.y == 0u && col < COLS) {
    var total = 0.0;
    for (var y = 0u; y < WG_Y; y++) {
      total += partial[y * WG_X + lid.x];
    }
    out[col] = total;
  }
}
