//! Property test of the check stage: structure-aware mutations of a real
//! plugin file (fields of the ELF header, of program and section headers,
//! and stray bytes), with a fixed seed. `greenroom inspect` probes each in a
//! child process; every file must come out loaded or refused with a reason,
//! inspect itself must finish normally, and a file whose structure was
//! damaged must be refused by the check, before it is opened. A mutation
//! that breaks this becomes a test of its own.

use proptest::{
    prelude::*,
    strategy::ValueTree as _,
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use serde_json::Value;

use crate::{
    artifacts::{fixture, run_greenroom, scratch},
    bad_files::stdout,
};

/// How many mutated files one run checks.
const CASES: usize = 128;

/// Where one mutation writes, and what.
#[derive(Clone, Debug)]
enum Mutation {
    /// A field of the ELF header (bytes 16..64).
    Header {
        offset: usize,
        value: u64,
        width: usize,
    },
    /// A field of program header `entry` (modulo how many there are).
    ProgramHeader {
        entry: usize,
        field: usize,
        value: u64,
        width: usize,
    },
    /// A field of section header `entry` (modulo how many there are).
    SectionHeader {
        entry: usize,
        field: usize,
        value: u64,
        width: usize,
    },
    /// Bytes overwritten anywhere, each at a fraction of the length.
    Bytes(Vec<(u32, u8)>),
}

fn value() -> impl Strategy<Value = (u64, usize)> {
    let interesting = prop_oneof![
        Just(0_u64),
        Just(1),
        Just(u64::MAX),
        Just(0x7fff_ffff),
        Just(0x8000_0000),
        any::<u64>()
    ];
    (
        interesting,
        prop_oneof![Just(1_usize), Just(2), Just(4), Just(8)],
    )
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (16_usize..64, value()).prop_map(|(offset, (value, width))| Mutation::Header {
            offset,
            value,
            width
        }),
        (0_usize..16, 0_usize..56, value()).prop_map(|(entry, field, (value, width))| {
            Mutation::ProgramHeader {
                entry,
                field,
                value,
                width,
            }
        }),
        (0_usize..48, 0_usize..64, value()).prop_map(|(entry, field, (value, width))| {
            Mutation::SectionHeader {
                entry,
                field,
                value,
                width,
            }
        }),
        prop::collection::vec((any::<u32>(), any::<u8>()), 1..8).prop_map(Mutation::Bytes),
    ]
}

fn read_u16(bytes: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

fn read_u64(bytes: &[u8], at: usize) -> usize {
    let mut word = [0_u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    usize::try_from(u64::from_le_bytes(word)).unwrap_or(usize::MAX)
}

/// Writes the low `width` bytes of `value` at `at`, as far as the file goes.
fn put(bytes: &mut [u8], at: usize, value: u64, width: usize) {
    for (index, byte) in value.to_le_bytes().iter().take(width).enumerate() {
        if let Some(slot) = bytes.get_mut(at.saturating_add(index)) {
            *slot = *byte;
        }
    }
}

/// `bytes` (a little-endian ELF64 file) with `mutation` applied.
fn mutate(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let (program_headers, program_size) = (read_u64(&bytes, 0x20), read_u16(&bytes, 0x36));
    let (section_headers, section_size) = (read_u64(&bytes, 0x28), read_u16(&bytes, 0x3a));
    let (programs, sections) = (read_u16(&bytes, 0x38).max(1), read_u16(&bytes, 0x3c).max(1));
    match mutation {
        Mutation::Header {
            offset,
            value,
            width,
        } => put(&mut bytes, *offset, *value, *width),
        Mutation::ProgramHeader {
            entry,
            field,
            value,
            width,
        } => {
            let at = program_headers + (entry % programs) * program_size + field;
            put(&mut bytes, at, *value, *width);
        }
        Mutation::SectionHeader {
            entry,
            field,
            value,
            width,
        } => {
            let at = section_headers + (entry % sections) * section_size + field;
            put(&mut bytes, at, *value, *width);
        }
        Mutation::Bytes(writes) => {
            let len = bytes.len();
            for (fraction, byte) in writes {
                let at = (u64::from(*fraction) * len as u64 / u64::from(u32::MAX)) as usize;
                put(&mut bytes, at.min(len - 1), u64::from(*byte), 1);
            }
        }
    }
    bytes
}

#[test]
fn mutated_plugin_files_are_loaded_or_refused_never_crash_the_loader() {
    let dir = scratch("mutations");
    let original = std::fs::read(fixture("minimal")).expect("the fixture reads");
    assert_eq!(&original[..4], b"\x7fELF", "the fixture is an ELF file");
    // This seed found the moved dynamic segment and the code segments
    // shortened or made unexecutable, tested on their own below.
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let mutations: Vec<Mutation> = (0..CASES)
        .map(|_| {
            mutation()
                .new_tree(&mut runner)
                .expect("a mutation")
                .current()
        })
        .collect();
    for (number, mutation) in mutations.iter().enumerate() {
        // One file per run: two files declaring one plugin would make the
        // second a duplicate, refused before it is ever opened.
        let file = dir.join(format!("mutated-{number:03}.so"));
        std::fs::write(&file, mutate(original.clone(), mutation)).expect("written");

        let output = run_greenroom(&["inspect", "--json", file.as_str()]);

        assert!(
            output.status.code().is_some(),
            "inspect was killed by a signal: {:?}",
            output.status
        );
        let reports: Value = serde_json::from_str(&stdout(&output)).expect("inspect prints JSON");
        let report = &reports[0];
        let status = report["status"].as_str().unwrap_or_default();
        let reason = report["reason"].as_str().unwrap_or_default();
        assert!(
            status == "ok" || (status == "refused" && !reason.is_empty()),
            "{mutation:?}: {report}"
        );
        // Damaged structure must be refused by the check, before any code
        // runs; damaged code or data can only be caught by running it, which
        // the probe does in its child (and integrity pins prevent).
        if !matches!(mutation, Mutation::Bytes(_)) {
            assert!(
                !reason.contains("crashed"),
                "{mutation:?} crashed the loader: {report}"
            );
        }
    }
}

/// The index of the first program header of `kind` whose flags include
/// `flags`.
fn program_header(bytes: &[u8], kind: u32, flags: u32) -> usize {
    let (start, size, count) = (
        read_u64(bytes, 0x20),
        read_u16(bytes, 0x36),
        read_u16(bytes, 0x38),
    );
    (0..count)
        .find(|entry| {
            let at = start + entry * size;
            let word = |offset: usize| {
                u32::from_le_bytes(
                    bytes[at + offset..at + offset + 4]
                        .try_into()
                        .expect("4 bytes"),
                )
            };
            word(0) == kind && word(4) & flags == flags
        })
        .expect("the fixture has such a program header")
}

/// Where program header `entry` starts.
fn program_header_at(bytes: &[u8], entry: usize) -> usize {
    read_u64(bytes, 0x20) + entry * read_u16(bytes, 0x36)
}

/// Runs the check over the minimal fixture with `mutation` applied and
/// returns the reason it was refused.
fn refusal(test: &str, mutation: &Mutation) -> String {
    let dir = scratch(test);
    let file = dir.join("damaged.so");
    let original = std::fs::read(fixture("minimal")).expect("the fixture reads");
    std::fs::write(&file, mutate(original, mutation)).expect("written");
    let output = run_greenroom(&["inspect", "--json", file.as_str()]);
    let reports: Value = serde_json::from_str(&stdout(&output)).expect("inspect prints JSON");
    assert_eq!(reports[0]["stage"], "check", "{}", reports[0]);
    reports[0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PF_X: u32 = 1;

#[test]
fn a_dynamic_segment_moved_away_from_its_bytes_is_refused_by_the_check() {
    let original = std::fs::read(fixture("minimal")).expect("the fixture reads");
    let entry = program_header(&original, PT_DYNAMIC, 0);
    let moved = Mutation::ProgramHeader {
        entry,
        field: 21,
        value: 1,
        width: 1,
    };

    assert_eq!(
        refusal("dynamic-moved", &moved),
        "a damaged shared library (the dynamic segment lies outside the loadable segments, or \
         apart from the bytes they load); reinstall the plugin, it may be truncated"
    );
}

#[test]
fn a_code_segment_shortened_or_made_unexecutable_is_refused_by_the_check() {
    let original = std::fs::read(fixture("minimal")).expect("the fixture reads");
    let code = program_header(&original, PT_LOAD, PF_X);
    let shortened = Mutation::ProgramHeader {
        entry: code,
        field: 34,
        value: 0,
        width: 8,
    };
    let unexecutable = Mutation::ProgramHeader {
        entry: code,
        field: 4,
        value: 0,
        width: 1,
    };

    assert_eq!(
        refusal("code-shortened", &shortened),
        "a damaged shared library (a section of code or data is not loaded from where the file \
         holds it); reinstall the plugin, it may be truncated"
    );
    assert_eq!(
        refusal("code-unexecutable", &unexecutable),
        "a damaged shared library (a section of code or data is loaded without the permissions \
         it needs (read, write, execute)); reinstall the plugin, it may be truncated"
    );
}

const PT_TLS: u32 = 7;

#[test]
fn a_thread_local_segment_lost_or_shrunk_is_refused_by_the_check() {
    let original = std::fs::read(fixture("minimal")).expect("the fixture reads");
    let entry = program_header(&original, PT_TLS, 0);
    // The high byte of its type: the loader no longer sees a TLS segment.
    let lost = Mutation::ProgramHeader {
        entry,
        field: 3,
        value: 0xbc,
        width: 1,
    };
    // Its size in memory (bytes 40..48) down to its size in the file
    // (bytes 32..40): the zeroed thread-locals after them fall outside.
    let file_size = read_u64(&original, program_header_at(&original, entry) + 32);
    let shrunk = Mutation::ProgramHeader {
        entry,
        field: 40,
        value: file_size as u64,
        width: 8,
    };

    let expected = "a damaged shared library (a thread-local section lies outside the \
                    thread-local segment, or there is none); reinstall the plugin, it may be \
                    truncated";
    assert_eq!(refusal("tls-lost", &lost), expected);
    assert_eq!(refusal("tls-shrunk", &shrunk), expected);
}
