//! The `csv` fuzz target: see `etagsum_fuzz::csv`.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| etagsum_fuzz::csv(data));

#[cfg(not(fuzzing))]
fn main() {
    etagsum_fuzz::replay_main("csv", etagsum_fuzz::csv);
}
