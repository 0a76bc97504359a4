//! Single-stream MD5 compression, scheduled for the dependency chain.
//!
//! One MD5 stream is a chain of 64 dependent steps per block; each step is
//! `b + rotl(a + K + M + f(b, c, d), s)`. Everything that does not depend on the newest
//! word `b` (the constant, the message word, the part of `f` that only needs `c` and `d`) is
//! summed into `a` first, so that only one or two logic operations, one add, the rotate and
//! the final add sit on the critical path. This gives about 4.5 cycles per byte on a
//! modern x86-64 core, the floor of a scalar MD5.

use super::K;

/// Keeps the compiler from reassociating the sum that is ready early with the value that
/// comes late.
///
/// Left alone, the optimiser rewrites `(a + K + M) + f(b)` as `((a + M) + f(b)) + K` (it
/// moves constants last), which puts one more add on the critical path of every step. An
/// empty assembly block makes the early sum opaque: it costs no instruction, but the value
/// has to be materialised before `f(b)` is added.
#[inline(always)]
pub(super) fn early(x: u32) -> u32 {
    #[allow(unused_mut)]
    let mut x = x;
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    // SAFETY: the template is only a comment: it reads and writes nothing but the register
    // that holds `x`, touches no memory and no flags, and does not use the stack.
    unsafe {
        core::arch::asm!("/* {0:e} */", inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above, an assembly comment that only names the register of `x`.
    unsafe {
        core::arch::asm!("/* {0:w} */", inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    x
}

/// Reads message word `i` of a 64-byte block.
#[inline(always)]
fn word(block: &[u8; 64], i: usize) -> u32 {
    u32::from_le_bytes([block[4 * i], block[4 * i + 1], block[4 * i + 2], block[4 * i + 3]])
}

/// Compresses one 64-byte block into `s`.
#[inline(always)]
pub(super) fn compress_block(s: &mut [u32; 4], block: &[u8; 64]) {
    let [mut a, mut b, mut c, mut d] = *s;

    macro_rules! step {
        (F, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $i:expr, $s:expr) => {
            $a = early($a.wrapping_add(word(block, $w)).wrapping_add(K[$i]));
            $a = $a.wrapping_add((($c ^ $d) & $b) ^ $d);
            $a = $a.rotate_left($s).wrapping_add($b);
        };
        (G, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $i:expr, $s:expr) => {
            // G = (b & d) | (c & !d): the halves share no bit, so `|` is `+`, and the half
            // without `b` joins the early sum.
            $a = early($a.wrapping_add(word(block, $w)).wrapping_add(K[$i]).wrapping_add($c & !$d));
            $a = $a.wrapping_add($b & $d);
            $a = $a.rotate_left($s).wrapping_add($b);
        };
        (H, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $i:expr, $s:expr) => {
            $a = early($a.wrapping_add(word(block, $w)).wrapping_add(K[$i]));
            $a = $a.wrapping_add(($c ^ $d) ^ $b);
            $a = $a.rotate_left($s).wrapping_add($b);
        };
        (I, $a:ident, $b:ident, $c:ident, $d:ident, $w:expr, $i:expr, $s:expr) => {
            $a = early($a.wrapping_add(word(block, $w)).wrapping_add(K[$i]));
            $a = $a.wrapping_add((!$d | $b) ^ $c);
            $a = $a.rotate_left($s).wrapping_add($b);
        };
    }
    md5_steps!(step, a, b, c, d);

    s[0] = s[0].wrapping_add(a);
    s[1] = s[1].wrapping_add(b);
    s[2] = s[2].wrapping_add(c);
    s[3] = s[3].wrapping_add(d);
}

/// Advances `state` over every whole block of `data` (`data.len()` is a multiple of 64).
#[inline(never)]
pub(super) fn compress(state: &mut [u32; 4], data: &[u8]) {
    let mut s = *state;
    for block in data.chunks_exact(64) {
        let block: &[u8; 64] = block.try_into().expect("chunks_exact(64) yields 64 bytes");
        compress_block(&mut s, block);
    }
    *state = s;
}
