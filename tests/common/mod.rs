//! Shared helpers for tests that read `../shared/vectors`.
#![allow(dead_code)]

use std::path::PathBuf;

/// Finds `vectors/<rel>` under `$CARGO_MANIFEST_DIR/../shared` or `../../shared`.
/// Missing: `None` (the test skips) unless `CI` is set, where the test fails.
pub fn shared_vector(rel: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for base in [root.join("../shared"), root.join("../../shared")] {
        let p = base.join("vectors").join(rel);
        if p.exists() {
            return Some(p);
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "shared vector {rel} not found next to {} and CI is set",
            root.display()
        );
    }
    eprintln!("skipping: shared vector {rel} not found");
    None
}

pub fn read(p: &std::path::Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
