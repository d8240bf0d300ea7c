// The plainest matmul: out[M×N] = A[M×K] · B[K×N], f32, row-major, one output element per
// invocation, no tiling, no staging. What `vramlab bench` times the tiled kernel of
// matmul.wgsl against on the same adapter, and a second reference in its tests. Driven by
// src/engine/kernels/matmul-plain.ts.

override M: u32;
override N: u32;
override K: u32;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * groups.x + wid.x) * WG + lid;
  if (i >= M * N) {
    return;
  }
  let row = i / N;
  let col = i % N;
  var s = 0.0;
  for (var k = 0u; k < K; k++) {
    s += a[row * K + k] * b[k * N + col];
  }
  out[i] = s;
}
