// Cast family: dst = src converted between storages, N values (f32 → f16/bf16 packed, any →
// f32, or between the two packed formats). Driven by src/engine/kernels/cast.ts.
// One invocation per PAIR of elements, so a packed dst is written in whole words.

override N: u32;
override SRC_KIND: u32 = 0u;
override DST_KIND: u32 = 0u;
override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;

fn loadSrc(i: u32) -> f32 {
  return decodeElement(src[storageWord(i, SRC_KIND)], i, SRC_KIND);
}

@compute @workgroup_size(WG)
fn convert(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = (wid.y * groups.x + wid.x) * WG + lid;
  let e0 = 2u * w;
  if (e0 >= N) {
    return;
  }
  let hasHi = e0 + 1u < N;
  let lo = loadSrc(e0);
  let hi = select(0.0, loadSrc(min(e0 + 1u, N - 1u)), hasHi);
  if (DST_KIND == STORAGE_F32) {
    // Bits copied as they are: an f32 → f32 cast keeps NaN payloads.
    dst[e0] = bitcast<u32>(lo);
    if (hasHi) {
      dst[e0 + 1u] = bitcast<u32>(hi);
    }
  } else {
    dst[w] = encodePair(lo, hi, DST_KIND);
  }
}
