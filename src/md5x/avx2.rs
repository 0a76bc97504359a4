//! AVX2 multi-buffer MD5: 8 streams per 256-bit register, `G` register groups interleaved.
//!
//! AVX2 has neither a three-input logic instruction nor a rotate, so a round function is two
//! or three instructions and a rotation three (two shifts and an or). Message words are
//! loaded as 16-byte pieces into the two halves of the registers and transposed inside each
//! half.

use core::arch::x86_64::*;

use super::K;

/// How far ahead of each stream to prefetch, in bytes.
const PREFETCH: usize = 1024;

/// Makes a value opaque to the optimiser, so that `a + K + M` is summed before `f(b, c, d)`
/// arrives instead of being reassociated into `((a + f) + M) + K`, which would put two more
/// adds on the critical path of every step. The assembly is an empty comment: no instruction.
macro_rules! early {
    ($x:expr) => {{
        let mut x: __m256i = $x;
        // SAFETY: the template is only a comment that names the register holding `x`; it
        // touches no memory, no flags and no stack, and the enclosing function enables AVX2,
        // which the `ymm_reg` class needs.
        unsafe {
            core::arch::asm!("/* {0} */", inout(ymm_reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        x
    }};
}

/// Loads block `blk` of the 8 streams at `ptrs` and returns its words transposed: `out[w]`
/// lane `l` is word `w` of stream `l`.
///
/// # Safety
/// Every `ptrs[l]` is valid for reads of `(blk + 1) * 64` bytes.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load_block(ptrs: &[*const u8; 8], blk: usize) -> [__m256i; 16] {
    let off = blk * 64;
    let piece = |l: usize, j: usize| {
        // SAFETY: bytes `off + 16 j .. off + 16 j + 16` (j < 4) of stream `l` lie in block
        // `blk`, inside the caller's readable range.
        unsafe { _mm_loadu_si128(ptrs[l].add(off + 16 * j).cast()) }
    };
    // x[4 j + r], 128-bit half p: words 4j .. 4j + 3 of stream 4p + r, so that a 4x4
    // transpose inside each half finishes the job (the insertion runs in the load unit).
    let x: [__m256i; 16] = core::array::from_fn(|i| {
        let (j, r) = (i / 4, i % 4);
        _mm256_set_m128i(piece(4 + r, j), piece(r, j))
    });
    let mut out = [_mm256_setzero_si256(); 16];
    for j in 0..4 {
        let t0 = _mm256_unpacklo_epi32(x[4 * j], x[4 * j + 1]);
        let t1 = _mm256_unpackhi_epi32(x[4 * j], x[4 * j + 1]);
        let t2 = _mm256_unpacklo_epi32(x[4 * j + 2], x[4 * j + 3]);
        let t3 = _mm256_unpackhi_epi32(x[4 * j + 2], x[4 * j + 3]);
        out[4 * j] = _mm256_unpacklo_epi64(t0, t2);
        out[4 * j + 1] = _mm256_unpackhi_epi64(t0, t2);
        out[4 * j + 2] = _mm256_unpacklo_epi64(t1, t3);
        out[4 * j + 3] = _mm256_unpackhi_epi64(t1, t3);
    }
    out
}

/// Advances `8 * G` streams by `nblocks` blocks each: stream `8 g + l` has state
/// `states[g][l]` and reads `nblocks * 64` bytes from `ptrs[g][l]`.
///
/// # Safety
/// The CPU supports AVX2, and every `ptrs[g][l]` is valid for reads of `nblocks * 64` bytes
/// (any alignment).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn compress<const G: usize>(
    states: &mut [[[u32; 4]; 8]; G],
    ptrs: &[[*const u8; 8]; G],
    nblocks: usize,
) {
    let load_word = |g: usize, w: usize| {
        let col: [u32; 8] = core::array::from_fn(|l| states[g][l][w]);
        // SAFETY: `col` is a local array of 32 bytes; an unaligned load reads exactly it.
        unsafe { _mm256_loadu_si256(col.as_ptr().cast()) }
    };
    let mut a: [__m256i; G] = core::array::from_fn(|g| load_word(g, 0));
    let mut b: [__m256i; G] = core::array::from_fn(|g| load_word(g, 1));
    let mut c: [__m256i; G] = core::array::from_fn(|g| load_word(g, 2));
    let mut d: [__m256i; G] = core::array::from_fn(|g| load_word(g, 3));
    let ones = _mm256_set1_epi32(-1);

    for blk in 0..nblocks {
        // Each stream's line 1 KiB ahead, for data that comes from memory. A prefetch is a
        // hint that never faults, so an address past the end of a stream is harmless;
        // `wrapping_add` keeps the arithmetic defined.
        for lanes in ptrs {
            for &p in lanes {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(blk * 64 + PREFETCH).cast());
            }
        }
        // SAFETY: `blk < nblocks`, so every stream has `(blk + 1) * 64` readable bytes.
        let m: [[__m256i; 16]; G] = core::array::from_fn(|g| unsafe { load_block(&ptrs[g], blk) });
        let (a0, b0, c0, d0) = (a, b, c, d);

        macro_rules! step {
            ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $i:expr, $s:expr) => {
                for g in 0..G {
                    let (x, y, z) = ($b[g], $c[g], $d[g]);
                    let t = _mm256_add_epi32($a[g], _mm256_set1_epi32(K[$i] as i32));
                    let t = early!(_mm256_add_epi32(t, m[g][$w]));
                    let t = step!(@ $f, t, x, y, z);
                    let t = _mm256_or_si256(
                        _mm256_slli_epi32::<$s>(t),
                        _mm256_srli_epi32::<{ 32 - $s }>(t),
                    );
                    $a[g] = _mm256_add_epi32(t, x);
                }
            };
            (@ F, $t:ident, $x:ident, $y:ident, $z:ident) => {
                _mm256_add_epi32(
                    $t,
                    _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256($y, $z), $x), $z),
                )
            };
            // (x & z) | (y & !z): the halves share no bit, so `|` is `+`.
            (@ G, $t:ident, $x:ident, $y:ident, $z:ident) => {
                _mm256_add_epi32(
                    _mm256_add_epi32($t, _mm256_andnot_si256($z, $y)),
                    _mm256_and_si256($x, $z),
                )
            };
            (@ H, $t:ident, $x:ident, $y:ident, $z:ident) => {
                _mm256_add_epi32($t, _mm256_xor_si256(_mm256_xor_si256($y, $z), $x))
            };
            (@ I, $t:ident, $x:ident, $y:ident, $z:ident) => {
                _mm256_add_epi32(
                    $t,
                    _mm256_xor_si256($y, _mm256_or_si256($x, _mm256_xor_si256($z, ones))),
                )
            };
        }
        md5_steps!(step, a, b, c, d);

        for g in 0..G {
            a[g] = _mm256_add_epi32(a[g], a0[g]);
            b[g] = _mm256_add_epi32(b[g], b0[g]);
            c[g] = _mm256_add_epi32(c[g], c0[g]);
            d[g] = _mm256_add_epi32(d[g], d0[g]);
        }
    }

    for g in 0..G {
        let mut cols = [[0u32; 8]; 4];
        for (col, v) in cols.iter_mut().zip([a[g], b[g], c[g], d[g]]) {
            // SAFETY: `col` is a local array of 32 bytes; an unaligned store writes exactly it.
            unsafe { _mm256_storeu_si256(col.as_mut_ptr().cast(), v) };
        }
        for (l, s) in states[g].iter_mut().enumerate() {
            *s = [cols[0][l], cols[1][l], cols[2][l], cols[3][l]];
        }
    }
}
