//! The `size` fuzz target: see `etagsum_fuzz::size`.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| etagsum_fuzz::size(data));

#[cfg(not(fuzzing))]
fn main() {
    etagsum_fuzz::replay_main("size", etagsum_fuzz::size);
}
