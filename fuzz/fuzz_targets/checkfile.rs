//! The `checkfile` fuzz target: see `etagsum_fuzz::checkfile`.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| etagsum_fuzz::checkfile(data));

#[cfg(not(fuzzing))]
fn main() {
    etagsum_fuzz::replay_main("checkfile", etagsum_fuzz::checkfile);
}
