//! The `verify` fuzz target: see `etagsum_fuzz::verify`.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| etagsum_fuzz::verify(data));

#[cfg(not(fuzzing))]
fn main() {
    etagsum_fuzz::replay_main("verify", etagsum_fuzz::verify);
}
