//! Every kernel against the `md-5` crate and against each other.

use md5::{Digest, Md5 as RefMd5};

use super::*;

/// A small deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The kernels this CPU can run. Those it cannot are reported as not tested, never skipped in
/// silence: a green run on a machine without AVX-512 says nothing about the AVX-512 kernel.
fn kernels_under_test() -> Vec<Kernel> {
    for k in Kernel::ALL.into_iter().filter(|k| !k.is_supported()) {
        eprintln!("NOT TESTED: the {k} kernel, which this CPU cannot run");
    }
    Kernel::supported()
}

fn reference(data: &[u8]) -> [u8; 16] {
    RefMd5::digest(data).into()
}

/// The digest of `data` through `compress_scalar` and `finalize`.
fn via_scalar(data: &[u8]) -> [u8; 16] {
    let whole = data.len() / 64 * 64;
    let mut state = IV;
    compress_scalar(&mut state, &data[..whole]);
    finalize(state, &data[whole..], data.len() as u64)
}

/// The state after compressing `data` (whole blocks) one block at a time, the slow way.
fn state_after(data: &[u8]) -> [u32; 4] {
    let mut state = IV;
    for block in data.chunks_exact(64) {
        scalar::compress_block(&mut state, block.try_into().unwrap());
    }
    state
}

#[test]
fn known_answers() {
    let cases: [(&[u8], &str); 4] = [
        (b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
        (b"The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6"),
        (
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ];
    for (input, hex) in cases {
        let got: String = via_scalar(input).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hex, "input {:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn scalar_and_finalize_match_md5_for_every_short_length() {
    let data = Rng::new(1).bytes(300);
    for len in 0..=300 {
        assert_eq!(via_scalar(&data[..len]), reference(&data[..len]), "length {len}");
    }
}

#[test]
fn scalar_matches_md5_for_big_inputs() {
    let data = Rng::new(2).bytes((1 << 20) + 4 * 64 + 13);
    for len in [4096, 65536 + 63, 1 << 20, data.len()] {
        assert_eq!(via_scalar(&data[..len]), reference(&data[..len]), "length {len}");
    }
}

#[test]
fn finalize_counts_the_length_modulo_2_pow_64_bits() {
    // The length field is the bit count mod 2^64: 2^61 more bytes wrap around exactly,
    // 2^60 more do not.
    let tail = [7u8; 10];
    let a = finalize(IV, &tail, 10);
    assert_eq!(a, reference(&tail));
    assert_eq!(finalize(IV, &tail, 10 + (1u64 << 61)), a);
    assert_ne!(finalize(IV, &tail, 10 + (1u64 << 60)), a);
}

#[test]
#[should_panic(expected = "shorter than a block")]
fn finalize_rejects_a_whole_block_as_tail() {
    finalize(IV, &[0; 64], 64);
}

#[test]
fn streaming_md5_matches_for_every_length_and_split() {
    let mut rng = Rng::new(3);
    let data = rng.bytes(300);
    for len in 0..=300 {
        let mut h = Md5::new();
        let mut rest = &data[..len];
        while !rest.is_empty() {
            let n = rng.below(rest.len().min(150)) + 1;
            h.update(&rest[..n]);
            rest = &rest[n..];
        }
        let fork = h.clone();
        assert_eq!(h.finalize(), reference(&data[..len]), "length {len}");
        assert_eq!(fork.finalize(), reference(&data[..len]), "clone, length {len}");
    }
    let big = rng.bytes(3 << 20);
    let mut h = Md5::default();
    for chunk in big.chunks(100_003) {
        h.update(chunk);
    }
    assert_eq!(h.finalize(), reference(&big));
}

#[test]
#[should_panic(expected = "not a multiple of 64")]
fn compress_scalar_rejects_partial_blocks() {
    let mut s = IV;
    compress_scalar(&mut s, &[0; 65]);
}

/// Runs `jobs` (given as byte ranges of `buf`) on `kernel` and checks every state against the
/// one-block-at-a-time reference; also checks full digests through `finalize`.
fn check_jobs(kernel: Kernel, buf: &[u8], ranges: &[(usize, usize)], staggered: bool) {
    let mut rng = Rng::new(ranges.len() as u64);
    // Start some jobs from a state other than IV, as the engine resumes streams.
    let starts: Vec<[u32; 4]> = ranges
        .iter()
        .map(|_| if rng.below(2) == 0 { IV } else { [0, 1, 2, 3].map(|_| rng.next() as u32) })
        .collect();
    let mut states = starts.clone();
    let mut jobs: Vec<Job<'_>> = states
        .iter_mut()
        .zip(ranges)
        .map(|(state, &(at, len))| Job { state, data: &buf[at..at + len] })
        .collect();
    if staggered {
        compress_jobs(kernel, &mut jobs);
    } else {
        compress_jobs_unstaggered(kernel, &mut jobs);
    }
    drop(jobs);
    for (i, (&(at, len), (start, got))) in ranges.iter().zip(starts.iter().zip(&states)).enumerate() {
        let mut want = *start;
        for block in buf[at..at + len].chunks_exact(64) {
            scalar::compress_block(&mut want, block.try_into().unwrap());
        }
        assert_eq!(
            *got,
            want,
            "{kernel}: job {i} of {} ({} blocks at offset {at}), staggered {staggered}",
            ranges.len(),
            len / 64
        );
        if *start == IV {
            let end = (at + len + 17).min(buf.len());
            let digest = finalize(*got, &buf[at + len..end], (end - at) as u64);
            assert_eq!(digest, reference(&buf[at..end]), "{kernel}: digest of job {i}");
        }
    }
}

#[test]
fn every_kernel_matches_for_every_job_count_and_mixed_lengths() {
    let mut rng = Rng::new(4);
    let buf = rng.bytes(1 << 20);
    for kernel in kernels_under_test() {
        for count in 1..=2 * kernel.lanes() {
            // Mixed lengths: mostly short, some long, some empty; odd start offsets.
            let ranges: Vec<(usize, usize)> = (0..count)
                .map(|_| {
                    let blocks = match rng.below(8) {
                        0 => 0,
                        1 => 40 + rng.below(60),
                        _ => rng.below(12),
                    };
                    (rng.below(buf.len() - 100 * 64 - 64), blocks * 64)
                })
                .collect();
            check_jobs(kernel, &buf, &ranges, true);
        }
    }
}

#[test]
fn every_kernel_matches_for_equal_lengths_and_unaligned_starts() {
    let mut rng = Rng::new(5);
    let buf = rng.bytes(1 << 20);
    for kernel in kernels_under_test() {
        for count in [1, 2, 3, kernel.lanes() - 1, kernel.lanes(), kernel.lanes() + 1, 3 * kernel.lanes()] {
            for misalign in [0, 1, 3, 17, 63] {
                let ranges: Vec<(usize, usize)> = (0..count).map(|i| (i * 5000 + misalign, 9 * 64)).collect();
                check_jobs(kernel, &buf, &ranges, true);
            }
        }
    }
}

#[test]
fn every_kernel_matches_when_one_job_dwarfs_the_others() {
    let buf = Rng::new(6).bytes(1 << 20);
    for kernel in kernels_under_test() {
        let mut ranges = vec![(1, 1000 * 64)];
        ranges.extend((0..kernel.lanes() + 3).map(|i| (70_000 + i * 333, (i % 5) * 64)));
        check_jobs(kernel, &buf, &ranges, true);
        ranges.reverse();
        check_jobs(kernel, &buf, &ranges, true);
    }
}

#[test]
fn staggering_keeps_results_for_aliased_streams() {
    // Parts a power of two apart, long enough to be staggered, plus a ragged last part.
    let part = 64 << 10;
    let buf = Rng::new(7).bytes(40 * part);
    for kernel in kernels_under_test() {
        for count in [4, kernel.lanes(), kernel.lanes() + 5] {
            let mut ranges: Vec<(usize, usize)> = (0..count).map(|i| (i * part, part)).collect();
            ranges.push((count * part, part / 2));
            check_jobs(kernel, &buf, &ranges, true);
            check_jobs(kernel, &buf, &ranges, false);
        }
    }
}

#[test]
fn every_engine_matches_the_scalar_compressor() {
    let mut rng = Rng::new(8);
    for (name, lanes) in engine_names() {
        let bufs: Vec<Vec<u8>> = (0..lanes).map(|_| rng.bytes(20 * 64 + 1)).collect();
        // Odd start addresses: each lane reads from byte 1 of its buffer.
        let data: Vec<&[u8]> = bufs.iter().map(|b| &b[1..]).collect();
        for nblocks in [0, 1, 2, 7, 20] {
            let mut states: Vec<[u32; 4]> = (0..lanes).map(|_| [0; 4].map(|_| rng.next() as u32)).collect();
            let want: Vec<[u32; 4]> = states
                .iter()
                .zip(&data)
                .map(|(s, d)| {
                    let mut s = *s;
                    for block in d[..nblocks * 64].chunks_exact(64) {
                        scalar::compress_block(&mut s, block.try_into().unwrap());
                    }
                    s
                })
                .collect();
            assert!(run_engine(name, &mut states, &data, nblocks));
            assert_eq!(states, want, "engine {name}, {nblocks} blocks");
        }
    }
    assert!(!run_engine("no-such-engine", &mut [], &[], 0));
}

#[test]
fn no_jobs_and_empty_jobs_are_fine() {
    for kernel in kernels_under_test() {
        compress_jobs(kernel, &mut []);
        let mut s = [IV; 3];
        let [a, b, c] = &mut s;
        let mut jobs =
            [Job { state: a, data: &[] }, Job { state: b, data: &[] }, Job { state: c, data: &[] }];
        compress_jobs(kernel, &mut jobs);
        assert_eq!(s, [IV; 3]);
    }
}

#[test]
#[should_panic(expected = "job 1: data length 100 is not a multiple of 64")]
fn compress_jobs_rejects_partial_blocks() {
    let data = [0u8; 128];
    let mut s = [IV; 2];
    let [a, b] = &mut s;
    compress_jobs(
        Kernel::Portable,
        &mut [Job { state: a, data: &data[..64] }, Job { state: b, data: &data[..100] }],
    );
}

#[test]
fn single_job_uses_the_scalar_path_and_matches() {
    let data = Rng::new(9).bytes(64 * 33);
    for kernel in kernels_under_test() {
        let mut s = IV;
        compress_jobs(kernel, &mut [Job { state: &mut s, data: &data }]);
        assert_eq!(s, state_after(&data));
    }
}

#[test]
fn kernel_names_round_trip() {
    for k in [Kernel::Portable, Kernel::Avx2, Kernel::Avx512] {
        assert_eq!(k.as_str().parse::<Kernel>().unwrap(), k);
        assert_eq!(k.to_string(), k.as_str());
        assert_eq!(k.as_str().to_uppercase().parse::<Kernel>().unwrap(), k);
    }
    let err = "sse9".parse::<Kernel>().unwrap_err().to_string();
    assert_eq!(err, "unknown kernel 'sse9', which should be one of portable, avx2 or avx512");
}

#[test]
fn detection_is_consistent() {
    let all = Kernel::supported();
    assert!(all.contains(&Kernel::Portable));
    assert_eq!(all[0], Kernel::detect());
    assert!(all.iter().all(|k| k.is_supported() && k.lanes() >= 1));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        assert_eq!(Kernel::detect(), Kernel::Avx512);
    }
}
