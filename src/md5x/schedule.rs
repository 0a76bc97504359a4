//! The 64 steps of one MD5 block, shared by every kernel.
//!
//! `md5_steps!(step, a, b, c, d)` expands to 64 invocations `step!(FN, a, b, c, d, w, i, s)`: the
//! round function (`F`, `G`, `H` or `I`), the four state words (the caller's variables, so that
//! hygiene lets the steps name them) in the order of that step,
//! the message word index `w`, the step index `i` (the index into [`K`](super::K)) and the
//! rotation `s`. Each kernel supplies its own `step!` for its own vector type, so the
//! message order and the rotations are written once (RFC 1321, section 3.4).

macro_rules! md5_steps {
    ($step:ident, $a:ident, $b:ident, $c:ident, $d:ident) => {
        $step!(F, $a, $b, $c, $d, 0, 0, 7);
        $step!(F, $d, $a, $b, $c, 1, 1, 12);
        $step!(F, $c, $d, $a, $b, 2, 2, 17);
        $step!(F, $b, $c, $d, $a, 3, 3, 22);
        $step!(F, $a, $b, $c, $d, 4, 4, 7);
        $step!(F, $d, $a, $b, $c, 5, 5, 12);
        $step!(F, $c, $d, $a, $b, 6, 6, 17);
        $step!(F, $b, $c, $d, $a, 7, 7, 22);
        $step!(F, $a, $b, $c, $d, 8, 8, 7);
        $step!(F, $d, $a, $b, $c, 9, 9, 12);
        $step!(F, $c, $d, $a, $b, 10, 10, 17);
        $step!(F, $b, $c, $d, $a, 11, 11, 22);
        $step!(F, $a, $b, $c, $d, 12, 12, 7);
        $step!(F, $d, $a, $b, $c, 13, 13, 12);
        $step!(F, $c, $d, $a, $b, 14, 14, 17);
        $step!(F, $b, $c, $d, $a, 15, 15, 22);

        $step!(G, $a, $b, $c, $d, 1, 16, 5);
        $step!(G, $d, $a, $b, $c, 6, 17, 9);
        $step!(G, $c, $d, $a, $b, 11, 18, 14);
        $step!(G, $b, $c, $d, $a, 0, 19, 20);
        $step!(G, $a, $b, $c, $d, 5, 20, 5);
        $step!(G, $d, $a, $b, $c, 10, 21, 9);
        $step!(G, $c, $d, $a, $b, 15, 22, 14);
        $step!(G, $b, $c, $d, $a, 4, 23, 20);
        $step!(G, $a, $b, $c, $d, 9, 24, 5);
        $step!(G, $d, $a, $b, $c, 14, 25, 9);
        $step!(G, $c, $d, $a, $b, 3, 26, 14);
        $step!(G, $b, $c, $d, $a, 8, 27, 20);
        $step!(G, $a, $b, $c, $d, 13, 28, 5);
        $step!(G, $d, $a, $b, $c, 2, 29, 9);
        $step!(G, $c, $d, $a, $b, 7, 30, 14);
        $step!(G, $b, $c, $d, $a, 12, 31, 20);

        $step!(H, $a, $b, $c, $d, 5, 32, 4);
        $step!(H, $d, $a, $b, $c, 8, 33, 11);
        $step!(H, $c, $d, $a, $b, 11, 34, 16);
        $step!(H, $b, $c, $d, $a, 14, 35, 23);
        $step!(H, $a, $b, $c, $d, 1, 36, 4);
        $step!(H, $d, $a, $b, $c, 4, 37, 11);
        $step!(H, $c, $d, $a, $b, 7, 38, 16);
        $step!(H, $b, $c, $d, $a, 10, 39, 23);
        $step!(H, $a, $b, $c, $d, 13, 40, 4);
        $step!(H, $d, $a, $b, $c, 0, 41, 11);
        $step!(H, $c, $d, $a, $b, 3, 42, 16);
        $step!(H, $b, $c, $d, $a, 6, 43, 23);
        $step!(H, $a, $b, $c, $d, 9, 44, 4);
        $step!(H, $d, $a, $b, $c, 12, 45, 11);
        $step!(H, $c, $d, $a, $b, 15, 46, 16);
        $step!(H, $b, $c, $d, $a, 2, 47, 23);

        $step!(I, $a, $b, $c, $d, 0, 48, 6);
        $step!(I, $d, $a, $b, $c, 7, 49, 10);
        $step!(I, $c, $d, $a, $b, 14, 50, 15);
        $step!(I, $b, $c, $d, $a, 5, 51, 21);
        $step!(I, $a, $b, $c, $d, 12, 52, 6);
        $step!(I, $d, $a, $b, $c, 3, 53, 10);
        $step!(I, $c, $d, $a, $b, 10, 54, 15);
        $step!(I, $b, $c, $d, $a, 1, 55, 21);
        $step!(I, $a, $b, $c, $d, 8, 56, 6);
        $step!(I, $d, $a, $b, $c, 15, 57, 10);
        $step!(I, $c, $d, $a, $b, 6, 58, 15);
        $step!(I, $b, $c, $d, $a, 13, 59, 21);
        $step!(I, $a, $b, $c, $d, 4, 60, 6);
        $step!(I, $d, $a, $b, $c, 11, 61, 10);
        $step!(I, $c, $d, $a, $b, 2, 62, 15);
        $step!(I, $b, $c, $d, $a, 9, 63, 21);
    };
}
