//! Every committed seed runs through its target without a failed property, in a plain build: a quick
//! check that needs no fuzzer (`cargo test -p etagsum-fuzz`). Seeds that crash the library today
//! are listed in `KNOWN` with the reason, and are skipped until the library is fixed.

use std::path::{Path, PathBuf};

/// Seeds that reproduce a known, open library bug (target/file name: why).
const KNOWN: &[(&str, &str)] = &[];

#[test]
fn every_seed_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut failures = Vec::new();
    for (name, target) in etagsum_fuzz::TARGETS {
        let mut files: Vec<PathBuf> = Vec::new();
        etagsum_fuzz::collect(&root.join(name), &mut files);
        assert!(files.len() >= 20, "{name}: only {} seeds", files.len());
        for f in files {
            let id = format!("{name}/{}", f.file_name().unwrap().to_string_lossy());
            if KNOWN.iter().any(|(k, _)| *k == id) {
                continue;
            }
            let data = std::fs::read(&f).unwrap();
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(id);
            }
        }
    }
    assert!(failures.is_empty(), "seeds that fail: {failures:?}");
}
