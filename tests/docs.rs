//! docs/verify-rules.md names the test that holds each rule: every name it gives must be a test
//! that exists, so that the page cannot drift from the code.

use std::path::Path;

#[test]
fn every_test_the_rules_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs/verify-rules.md")).unwrap();
    let mut named = 0;
    for quoted in page.split('`').skip(1).step_by(2) {
        let Some((file, name)) = quoted.split_once("::") else { continue };
        if !file.ends_with(".rs") {
            continue;
        }
        let source = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("docs/verify-rules.md names {file}, which cannot be read: {e}"));
        assert!(
            source.contains(&format!("fn {name}(")),
            "docs/verify-rules.md names {file}::{name}, which is not a function of that file"
        );
        named += 1;
    }
    assert!(named >= 20, "only {named} tests named");
}
