//! AVX-512 multi-buffer MD5: 16 streams per 512-bit register, `G` register groups
//! interleaved.
//!
//! Each MD5 round function is one `vpternlogd` and each rotation one `vprold`, so a step is
//! six instructions for 16 streams. On Zen 4 `vprold` takes two cycles, so one group alone
//! waits on its own chain (five cycles a step) and two groups interleaved fill the vector
//! units.
//!
//! Message words: every stream's block is read as four 16-byte pieces, inserted into the
//! 128-bit lanes of 16 registers (`vinserti32x4` from memory runs in the load unit), and a
//! 4x4 transpose inside each 128-bit lane (32 unpacks) finishes the job: half the shuffles
//! of a full 16x16 transpose, and much cheaper than 16 gathers (about 18 cycles each there).

use core::arch::x86_64::*;

use super::K;

/// How far ahead of each stream to prefetch, in bytes.
const PREFETCH: usize = 1024;

/// Makes a value opaque to the optimiser, so that `a + K + M` is summed before `f(b, c, d)`
/// arrives instead of being reassociated into `((a + f) + M) + K`, which would put two more
/// adds on the critical path of every step. The assembly is an empty comment: no instruction.
macro_rules! early {
    ($x:expr) => {{
        let mut x: __m512i = $x;
        // SAFETY: the template is only a comment that names the register holding `x`; it
        // touches no memory, no flags and no stack, and the enclosing function enables
        // AVX-512F, which the `zmm_reg` class needs.
        unsafe {
            core::arch::asm!("/* {0} */", inout(zmm_reg) x, options(pure, nomem, nostack, preserves_flags))
        };
        x
    }};
}

/// Loads block `blk` of the 16 streams at `ptrs` and returns its words transposed: `out[w]`
/// lane `l` is word `w` of stream `l`.
///
/// # Safety
/// Every `ptrs[l]` is valid for reads of `(blk + 1) * 64` bytes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn load_block(ptrs: &[*const u8; 16], blk: usize) -> [__m512i; 16] {
    let off = blk * 64;
    // x[4 j + r], 128-bit lane p: words 4j .. 4j + 3 of stream 4p + r. Written in assembly
    // so that the optimiser cannot merge the 16-byte loads back into full-width loads and
    // shuffles, which it does differently from one build to the next.
    let x: [__m512i; 16] = core::array::from_fn(|i| {
        let (j, r) = (i / 4, i % 4);
        let at = |l: usize| ptrs[l].wrapping_add(off + 16 * j);
        let v: __m512i;
        // SAFETY: the four 16-byte reads at `off + 16 j` (j < 4) of streams r, 4 + r, 8 + r
        // and 12 + r lie in block `blk`, inside the caller's readable range; the instructions
        // need AVX-512F, which the function enables, and touch nothing else.
        unsafe {
            core::arch::asm!(
                "vbroadcasti32x4 {v}, xmmword ptr [{p0}]",
                "vinserti32x4 {v}, {v}, xmmword ptr [{p1}], 1",
                "vinserti32x4 {v}, {v}, xmmword ptr [{p2}], 2",
                "vinserti32x4 {v}, {v}, xmmword ptr [{p3}], 3",
                v = out(zmm_reg) v,
                p0 = in(reg) at(r),
                p1 = in(reg) at(4 + r),
                p2 = in(reg) at(8 + r),
                p3 = in(reg) at(12 + r),
                options(pure, readonly, nostack, preserves_flags),
            );
        }
        v
    });
    let mut out = [_mm512_setzero_si512(); 16];
    for j in 0..4 {
        let t0 = _mm512_unpacklo_epi32(x[4 * j], x[4 * j + 1]);
        let t1 = _mm512_unpackhi_epi32(x[4 * j], x[4 * j + 1]);
        let t2 = _mm512_unpacklo_epi32(x[4 * j + 2], x[4 * j + 3]);
        let t3 = _mm512_unpackhi_epi32(x[4 * j + 2], x[4 * j + 3]);
        out[4 * j] = _mm512_unpacklo_epi64(t0, t2);
        out[4 * j + 1] = _mm512_unpackhi_epi64(t0, t2);
        out[4 * j + 2] = _mm512_unpacklo_epi64(t1, t3);
        out[4 * j + 3] = _mm512_unpackhi_epi64(t1, t3);
    }
    out
}

/// Advances `16 * G` streams by `nblocks` blocks each: stream `16 g + l` has state
/// `states[g][l]` and reads `nblocks * 64` bytes from `ptrs[g][l]`.
///
/// # Safety
/// The CPU supports AVX-512F, and every `ptrs[g][l]` is valid for reads of `nblocks * 64`
/// bytes (any alignment).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn compress<const G: usize>(
    states: &mut [[[u32; 4]; 16]; G],
    ptrs: &[[*const u8; 16]; G],
    nblocks: usize,
) {
    let load_word = |g: usize, w: usize| {
        let col: [u32; 16] = core::array::from_fn(|l| states[g][l][w]);
        // SAFETY: `col` is a local array of 64 bytes; an unaligned load reads exactly it.
        unsafe { _mm512_loadu_si512(col.as_ptr().cast()) }
    };
    let mut a: [__m512i; G] = core::array::from_fn(|g| load_word(g, 0));
    let mut b: [__m512i; G] = core::array::from_fn(|g| load_word(g, 1));
    let mut c: [__m512i; G] = core::array::from_fn(|g| load_word(g, 2));
    let mut d: [__m512i; G] = core::array::from_fn(|g| load_word(g, 3));

    // With two groups the 32 message vectors do not fit in the 32 registers next to the
    // state; reading them back with volatile loads stops the compiler from keeping some in
    // registers and spilling the state instead. A load from L1 costs no arithmetic slot.
    let msg = |m: &[[__m512i; 16]; G], g: usize, w: usize| {
        if G > 1 {
            // SAFETY: `&m[g][w]` is a valid, aligned reference to an initialised vector.
            unsafe { core::ptr::read_volatile(&m[g][w]) }
        } else {
            m[g][w]
        }
    };

    for blk in 0..nblocks {
        // With 32 streams the hardware prefetchers fall behind when the data comes from
        // memory; asking for each stream's line 1 KiB ahead doubles the speed there. A
        // prefetch is a hint that never faults, so an address past the end of a stream is
        // harmless; `wrapping_add` keeps the arithmetic defined.
        for lanes in ptrs {
            for &p in lanes {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(blk * 64 + PREFETCH).cast());
            }
        }
        // SAFETY: `blk < nblocks`, so every stream has `(blk + 1) * 64` readable bytes.
        let m: [[__m512i; 16]; G] = core::array::from_fn(|g| unsafe { load_block(&ptrs[g], blk) });
        let (a0, b0, c0, d0) = (a, b, c, d);

        macro_rules! step {
            ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $i:expr, $s:expr) => {
                for g in 0..G {
                    let t = _mm512_add_epi32($a[g], _mm512_set1_epi32(K[$i] as i32));
                    let t = early!(_mm512_add_epi32(t, msg(&m, g, $w)));
                    let f = _mm512_ternarylogic_epi32::<{ step!(@ $f) }>($b[g], $c[g], $d[g]);
                    let t = _mm512_add_epi32(t, f);
                    $a[g] = _mm512_add_epi32(_mm512_rol_epi32::<$s>(t), $b[g]);
                }
            };
            // Truth tables with b = 0xF0, c = 0xCC, d = 0xAA.
            (@ F) => { 0xCA }; // (b & c) | (!b & d)
            (@ G) => { 0xE4 }; // (b & d) | (c & !d)
            (@ H) => { 0x96 }; // b ^ c ^ d
            (@ I) => { 0x39 }; // c ^ (b | !d)
        }
        md5_steps!(step, a, b, c, d);

        for g in 0..G {
            a[g] = _mm512_add_epi32(a[g], a0[g]);
            b[g] = _mm512_add_epi32(b[g], b0[g]);
            c[g] = _mm512_add_epi32(c[g], c0[g]);
            d[g] = _mm512_add_epi32(d[g], d0[g]);
        }
    }

    for g in 0..G {
        let mut cols = [[0u32; 16]; 4];
        for (col, v) in cols.iter_mut().zip([a[g], b[g], c[g], d[g]]) {
            // SAFETY: `col` is a local array of 64 bytes; an unaligned store writes exactly it.
            unsafe { _mm512_storeu_si512(col.as_mut_ptr().cast(), v) };
        }
        for (l, s) in states[g].iter_mut().enumerate() {
            *s = [cols[0][l], cols[1][l], cols[2][l], cols[3][l]];
        }
    }
}
