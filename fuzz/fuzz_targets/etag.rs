//! The `etag` fuzz target: see `etagsum_fuzz::etag`.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| etagsum_fuzz::etag(data));

#[cfg(not(fuzzing))]
fn main() {
    etagsum_fuzz::replay_main("etag", etagsum_fuzz::etag);
}
