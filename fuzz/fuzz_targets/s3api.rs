//! The `s3api` fuzz target: see `etagsum_fuzz::s3api`.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| etagsum_fuzz::s3api(data));

#[cfg(not(fuzzing))]
fn main() {
    etagsum_fuzz::replay_main("s3api", etagsum_fuzz::s3api);
}
