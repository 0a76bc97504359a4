//! The `checksum` fuzz target: see `etagsum_fuzz::checksum`.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| etagsum_fuzz::checksum(data));

#[cfg(not(fuzzing))]
fn main() {
    etagsum_fuzz::replay_main("checksum", etagsum_fuzz::checksum);
}
