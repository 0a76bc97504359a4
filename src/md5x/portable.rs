//! Portable multi-buffer MD5: `N` streams side by side in plain arrays.
//!
//! Every operation is written once per lane over `[u32; N]`, so the code compiles on any
//! target. The lanes are independent, so the optimiser turns the lane loops into SIMD
//! instructions of the baseline instruction set (SSE2 on x86-64, NEON on AArch64), and where
//! it does not, the independent chains still overlap in the out-of-order core.

use super::scalar::early;
use super::K;

/// Reads message word `i` of the 64-byte block at the start of `block`.
#[inline(always)]
fn word(block: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]])
}

/// Advances the `N` states by `nblocks` blocks: lane `l` reads the first `nblocks * 64`
/// bytes of `data[l]`.
///
/// # Panics
/// If `states` or `data` does not have `N` entries, or a lane has fewer bytes than that.
#[inline(never)]
pub(super) fn compress_lanes<const N: usize>(states: &mut [[u32; 4]], data: &[&[u8]], nblocks: usize) {
    assert!(states.len() == N && data.len() == N);
    let len = nblocks * 64;
    let data: [&[u8]; N] = core::array::from_fn(|l| &data[l][..len]);

    let mut a: [u32; N] = core::array::from_fn(|l| states[l][0]);
    let mut b: [u32; N] = core::array::from_fn(|l| states[l][1]);
    let mut c: [u32; N] = core::array::from_fn(|l| states[l][2]);
    let mut d: [u32; N] = core::array::from_fn(|l| states[l][3]);

    for blk in 0..nblocks {
        let m: [[u32; N]; 16] =
            core::array::from_fn(|w| core::array::from_fn(|l| word(&data[l][blk * 64..], w)));
        let (a0, b0, c0, d0) = (a, b, c, d);

        macro_rules! step {
            ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $i:expr, $s:expr) => {
                for l in 0..N {
                    let (x, y, z) = ($b[l], $c[l], $d[l]);
                    let t = early($a[l].wrapping_add(m[$w][l]).wrapping_add(K[$i]));
                    let t = t.wrapping_add(step!(@ $f, x, y, z));
                    $a[l] = t.rotate_left($s).wrapping_add(x);
                }
            };
            (@ F, $x:ident, $y:ident, $z:ident) => {
                (($y ^ $z) & $x) ^ $z
            };
            (@ G, $x:ident, $y:ident, $z:ident) => {
                ($x & $z) | ($y & !$z)
            };
            (@ H, $x:ident, $y:ident, $z:ident) => {
                $x ^ $y ^ $z
            };
            (@ I, $x:ident, $y:ident, $z:ident) => {
                $y ^ ($x | !$z)
            };
        }
        md5_steps!(step, a, b, c, d);

        for l in 0..N {
            a[l] = a[l].wrapping_add(a0[l]);
            b[l] = b[l].wrapping_add(b0[l]);
            c[l] = c[l].wrapping_add(c0[l]);
            d[l] = d[l].wrapping_add(d0[l]);
        }
    }

    for (l, s) in states.iter_mut().enumerate() {
        *s = [a[l], b[l], c[l], d[l]];
    }
}
