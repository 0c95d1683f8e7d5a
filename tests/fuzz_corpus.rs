//! The fuzz targets' checks in every test run: each committed corpus file (`fuzz/corpus/<target>/`: real
//! inputs and the minimised inputs of past findings) goes through the same entry point the fuzz target
//! calls (`logward::fuzzing`), then a short randomised run mutates those files. A panic is a finding;
//! so is a property the entry point checks (serde_json's view of a JSON line, the lines a multiline
//! event holds, the statuses behind what a bulk answer counts as stored, …).

use logward::fuzzing::TARGETS;
use proptest::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn entry(target: &str) -> fn(&[u8]) {
    TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no fuzz target is named {target}"))
}

/// The committed corpus of `target`, sorted by name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus folder entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus file", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, data)
        })
        .collect()
}

/// Runs `target` on `data`; the panic message when it fails.
fn finding(target: &str, data: &[u8]) -> Option<String> {
    let f = entry(target);
    let payload = catch_unwind(AssertUnwindSafe(|| f(data))).err()?;
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    Some(text)
}

fn replay(target: &str) {
    let failed: Vec<String> = corpus(target)
        .iter()
        .filter_map(|(path, data)| {
            finding(target, data).map(|m| format!("{}: {m}", path.display()))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "corpus files of {target} fail:\n{}",
        failed.join("\n")
    );
}

/// One test per target, so a failure names it.
macro_rules! corpus_tests {
    ($($(#[$attr:meta])* $target:ident),* $(,)?) => {
        mod replay {
            $( $(#[$attr])* #[test] fn $target() { super::replay(stringify!($target)); } )*
        }
        mod mutated {
            use super::*;
            proptest! {
                #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
                $(
                    $(#[$attr])*
                    #[test]
                    fn $target(
                        pick in any::<prop::sample::Index>(),
                        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
                    ) {
                        let files = corpus(stringify!($target));
                        let mut data = files[pick.index(files.len())].1.clone();
                        mutate(&mut data, &edits);
                        if let Some(m) = finding(stringify!($target), &data) {
                            prop_assert!(false, "{m}\ninput: {:?}", String::from_utf8_lossy(&data));
                        }
                    }
                )*
            }
        }
    };
}

/// Applies edits the way a fuzzer mutates: overwrite, insert or remove a byte, or cut the rest.
fn mutate(data: &mut Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) {
    for (at, byte, how) in edits {
        let i = at.index(data.len() + 1);
        match how {
            0 if i < data.len() => data[i] = *byte,
            1 => data.insert(i, *byte),
            2 if i < data.len() => {
                data.remove(i);
            }
            _ => data.truncate(i.max(1)),
        }
    }
}

corpus_tests!(
    config,
    queue_segment,
    queue_cursor,
    bulk_response,
    json_line,
    processors,
    #[cfg(feature = "evtx")]
    evtx,
    multiline,
    auditd,
    received_body,
    syslog,
);

/// The corpus folders and the targets are the same set: a target without a corpus is never replayed.
#[test]
fn every_target_has_a_corpus_and_every_corpus_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .expect("fuzz/corpus")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.is_dir())
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    folders.sort();
    let mut targets: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    if !cfg!(feature = "evtx") {
        targets.push("evtx".into());
    }
    targets.sort();
    assert_eq!(folders, targets);
}
