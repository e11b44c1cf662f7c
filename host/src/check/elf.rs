//! Checks on an ELF library's dynamic section, which the dynamic loader
//! trusts: an address or size there that points outside the file's loaded
//! segments makes it crash the process inside `dlopen`, before any plugin
//! code could be blamed.

use object::{
    Endianness,
    elf::{self, DynamicTag},
    read::elf::{Dyn as _, ElfFile64, ProgramHeader as _, SectionHeader as _},
};

use super::CheckError;

/// Tags whose value is an address that must lie inside a loaded segment.
const ADDRESSES: [DynamicTag; 17] = [
    elf::DT_PLTGOT,
    elf::DT_HASH,
    elf::DT_GNU_HASH,
    elf::DT_STRTAB,
    elf::DT_SYMTAB,
    elf::DT_RELA,
    elf::DT_REL,
    elf::DT_RELR,
    elf::DT_JMPREL,
    elf::DT_INIT,
    elf::DT_FINI,
    elf::DT_INIT_ARRAY,
    elf::DT_FINI_ARRAY,
    elf::DT_PREINIT_ARRAY,
    elf::DT_VERSYM,
    elf::DT_VERNEED,
    elf::DT_VERDEF,
];

/// Tables given as an address and a size: the whole table must be loaded.
const TABLES: [(DynamicTag, DynamicTag); 7] = [
    (elf::DT_STRTAB, elf::DT_STRSZ),
    (elf::DT_RELA, elf::DT_RELASZ),
    (elf::DT_REL, elf::DT_RELSZ),
    (elf::DT_RELR, elf::DT_RELRSZ),
    (elf::DT_JMPREL, elf::DT_PLTRELSZ),
    (elf::DT_INIT_ARRAY, elf::DT_INIT_ARRAYSZ),
    (elf::DT_FINI_ARRAY, elf::DT_FINI_ARRAYSZ),
];

/// Tags whose value is an offset into the string table.
const STRINGS: [DynamicTag; 4] = [
    elf::DT_NEEDED,
    elf::DT_SONAME,
    elf::DT_RPATH,
    elf::DT_RUNPATH,
];

/// Checks the dynamic section of a 64-bit ELF library.
pub(super) fn check_dynamic(bytes: &[u8]) -> Result<(), CheckError> {
    let Ok(file) = ElfFile64::<Endianness>::parse(bytes) else {
        return Ok(());
    };
    let endian = file.endian();
    let headers = file.elf_program_headers();
    check_segments(&file)?;
    let loaded: Vec<(u64, u64)> = headers
        .iter()
        .filter(|header| header.p_type(endian) == elf::PT_LOAD)
        .map(|header| {
            let start = header.p_vaddr(endian);
            (start, start.saturating_add(header.p_memsz(endian)))
        })
        .collect();
    let mut entries = Vec::new();
    for header in headers {
        let dynamic = header
            .dynamic(endian, bytes)
            .map_err(|error| damaged(error.to_string()))?;
        if let Some(dynamic) = dynamic {
            entries.extend(
                dynamic
                    .iter()
                    .map(|entry| (entry.tag(endian), entry.d_val(endian))),
            );
        }
    }
    let entries: Vec<(DynamicTag, u64)> = entries
        .into_iter()
        .take_while(|(tag, _)| *tag != elf::DT_NULL)
        .collect();
    let value = |wanted: DynamicTag| {
        entries
            .iter()
            .find(|(tag, _)| *tag == wanted)
            .map(|(_, value)| *value)
    };
    let inside = |start: u64, size: u64| {
        let end = start.saturating_add(size);
        loaded
            .iter()
            .any(|(low, high)| start >= *low && end <= *high)
    };

    for (tag, address) in &entries {
        if ADDRESSES.contains(tag) && !inside(*address, 1) {
            return Err(damaged(format!(
                "dynamic entry {} points outside the loaded segments",
                name(*tag)
            )));
        }
    }
    for (address_tag, size_tag) in TABLES {
        if let (Some(address), Some(size)) = (value(address_tag), value(size_tag))
            && !inside(address, size)
        {
            return Err(damaged(format!(
                "the table of {} runs past the loaded segments",
                name(address_tag)
            )));
        }
    }
    for required in [elf::DT_STRTAB, elf::DT_SYMTAB, elf::DT_STRSZ] {
        if value(required).is_none() {
            return Err(damaged(format!(
                "the dynamic section has no {}",
                name(required)
            )));
        }
    }
    for size_tag in [
        elf::DT_INIT_ARRAYSZ,
        elf::DT_FINI_ARRAYSZ,
        elf::DT_PREINIT_ARRAYSZ,
    ] {
        if value(size_tag).is_some_and(|size| size % 8 != 0) {
            return Err(damaged(
                "a constructor or destructor table has a partial entry".to_string(),
            ));
        }
    }
    let string_table = value(elf::DT_STRSZ).unwrap_or(0);
    for (tag, offset) in &entries {
        if STRINGS.contains(tag) && *offset >= string_table {
            return Err(damaged(format!(
                "dynamic entry {} points past the string table",
                name(*tag)
            )));
        }
    }
    check_relocation_counts(&value)?;
    check_relocations(&file, bytes, &value)
}

/// Checks that loadable segments are well formed: what the file holds fits
/// in what is mapped, alignments are powers of two that offsets respect,
/// and no two segments overlap.
fn check_segments(file: &ElfFile64<'_, Endianness>) -> Result<(), CheckError> {
    let endian = file.endian();
    let mut loaded: Vec<(u64, u64)> = Vec::new();
    for header in file.elf_program_headers() {
        if header.p_type(endian) != elf::PT_LOAD {
            continue;
        }
        let (offset, address) = (header.p_offset(endian), header.p_vaddr(endian));
        let (file_size, memory_size) = (header.p_filesz(endian), header.p_memsz(endian));
        let align = header.p_align(endian);
        if file_size > memory_size {
            return Err(damaged(
                "a loadable segment holds more than it maps".to_string(),
            ));
        }
        if align > 1 && (!align.is_power_of_two() || offset % align != address % align) {
            return Err(damaged("a loadable segment is misaligned".to_string()));
        }
        loaded.push((address, address.saturating_add(memory_size)));
    }
    loaded.sort_unstable();
    if loaded.windows(2).any(|pair| pair[0].1 > pair[1].0) {
        return Err(damaged("two loadable segments overlap".to_string()));
    }
    check_placed_segments(file)?;
    check_thread_locals(file)?;
    check_sections_loaded(file)
}

/// Checks that the thread-local segment covers every thread-local section:
/// without it the loader sets up no thread-local storage, and the first
/// thread-local the code touches (registration does) crashes.
fn check_thread_locals(file: &ElfFile64<'_, Endianness>) -> Result<(), CheckError> {
    let endian = file.endian();
    let segment = file
        .elf_program_headers()
        .iter()
        .find(|header| header.p_type(endian) == elf::PT_TLS)
        .map(|header| {
            let start = header.p_vaddr(endian);
            (start, start.saturating_add(header.p_memsz(endian)))
        });
    for section in file.elf_section_table().iter() {
        let size = section.sh_size(endian);
        if !section.sh_flags(endian).contains(elf::SHF_TLS) || size == 0 {
            continue;
        }
        let address = section.sh_addr(endian);
        let covered = segment.is_some_and(|(start, end)| {
            address >= start && address.checked_add(size).is_some_and(|last| last <= end)
        });
        if !covered {
            return Err(damaged(
                "a thread-local section lies outside the thread-local segment, or there is none"
                    .to_string(),
            ));
        }
    }
    Ok(())
}

/// Checks that every section the program uses in memory with bytes from
/// the file (code, data) is loaded from where the file holds it, in full:
/// a loadable segment shortened or moved by damage leaves code zeroed or
/// misplaced, which no other check would see.
fn check_sections_loaded(file: &ElfFile64<'_, Endianness>) -> Result<(), CheckError> {
    let endian = file.endian();
    let headers = file.elf_program_headers();
    for section in file.elf_section_table().iter() {
        let allocated = section.sh_flags(endian).contains(elf::SHF_ALLOC);
        let size = section.sh_size(endian);
        if !allocated || section.sh_type(endian) == elf::SHT_NOBITS || size == 0 {
            continue;
        }
        let (offset, address) = (section.sh_offset(endian), section.sh_addr(endian));
        let flags = section.sh_flags(endian);
        let mut needed = elf::PF_R;
        if flags.contains(elf::SHF_EXECINSTR) {
            needed |= elf::PF_X;
        }
        if flags.contains(elf::SHF_WRITE) {
            needed |= elf::PF_W;
        }
        let load = headers.iter().find(|load| {
            let start = load.p_vaddr(endian);
            load.p_type(endian) == elf::PT_LOAD
                && address >= start
                && address
                    .checked_add(size)
                    .is_some_and(|end| end <= start.saturating_add(load.p_filesz(endian)))
                && offset.checked_sub(load.p_offset(endian)) == Some(address - start)
        });
        let Some(load) = load else {
            return Err(damaged(
                "a section of code or data is not loaded from where the file holds it".to_string(),
            ));
        };
        if !load.p_flags(endian).contains(needed) {
            return Err(damaged(
                "a section of code or data is loaded without the permissions it needs \
                 (read, write, execute)"
                    .to_string(),
            ));
        }
    }
    Ok(())
}

/// The segments the dynamic loader reads in memory, by name.
const PLACED: [(elf::ProgramType, &str); 6] = [
    (elf::PT_DYNAMIC, "dynamic"),
    (elf::PT_TLS, "thread-local"),
    (elf::PT_GNU_RELRO, "read-only-after-relocation"),
    (elf::PT_PHDR, "program header"),
    (elf::PT_NOTE, "note"),
    (elf::PT_GNU_EH_FRAME, "unwinding"),
];

/// Checks that each segment the dynamic loader reads in memory lies inside
/// one loadable segment, at the place that segment loads its bytes from.
fn check_placed_segments(file: &ElfFile64<'_, Endianness>) -> Result<(), CheckError> {
    let endian = file.endian();
    let headers = file.elf_program_headers();
    for header in headers {
        let Some((_, what)) = PLACED
            .iter()
            .find(|(kind, _)| *kind == header.p_type(endian))
        else {
            continue;
        };
        let (offset, address) = (header.p_offset(endian), header.p_vaddr(endian));
        let (file_size, memory_size) = (header.p_filesz(endian), header.p_memsz(endian));
        if file_size > memory_size {
            return Err(damaged(format!(
                "the {what} segment holds more than it maps"
            )));
        }
        let end = address.checked_add(memory_size);
        let placed = headers.iter().any(|load| {
            let start = load.p_vaddr(endian);
            load.p_type(endian) == elf::PT_LOAD
                && address >= start
                && end.is_some_and(|end| end <= start.saturating_add(load.p_memsz(endian)))
                && (file_size == 0
                    || offset.checked_sub(load.p_offset(endian)) == Some(address - start))
        });
        if !placed {
            return Err(damaged(format!(
                "the {what} segment lies outside the loadable segments, or apart from the \
                 bytes they load"
            )));
        }
    }
    Ok(())
}

/// Checks every relocation the loader will apply: a type it knows, a place
/// inside a loaded segment, and a symbol that exists.
fn check_relocations(
    file: &ElfFile64<'_, Endianness>,
    bytes: &[u8],
    value: &dyn Fn(DynamicTag) -> Option<u64>,
) -> Result<(), CheckError> {
    let endian = file.endian();
    let symbols = file.elf_dynamic_symbol_table().symbols().len() as u64;
    let tables = [
        (value(elf::DT_RELA), value(elf::DT_RELASZ)),
        (value(elf::DT_JMPREL), value(elf::DT_PLTRELSZ)),
    ];
    for (address, size) in tables {
        let (Some(address), Some(size)) = (address, size) else {
            continue;
        };
        let table = file_bytes(file, bytes, address, size)
            .ok_or_else(|| damaged("a relocation table is not in the file".to_string()))?;
        let entries: &[elf::Rela64<Endianness>] = object::slice_from_all_bytes(table)
            .map_err(|()| damaged("a relocation table has a partial entry".to_string()))?;
        for entry in entries {
            let kind = entry.r_type(endian, false);
            let symbol = u64::from(entry.r_sym(endian, false));
            let place = entry.r_offset.get(endian);
            if !KNOWN_RELOCATIONS.contains(&kind) {
                return Err(damaged(format!(
                    "a relocation has the unknown type {}",
                    kind.0
                )));
            }
            if symbol >= symbols.max(1) {
                return Err(damaged(
                    "a relocation names a symbol that does not exist".to_string(),
                ));
            }
            if file_bytes(file, bytes, place, 8).is_none() && !in_memory(file, place) {
                return Err(damaged(
                    "a relocation writes outside the loaded segments".to_string(),
                ));
            }
        }
    }
    Ok(())
}

/// The relocation types a Rust library for x86-64 or AArch64 uses.
const KNOWN_RELOCATIONS: [elf::RelocationType; 12] = [
    elf::R_X86_64_NONE,
    elf::R_X86_64_64,
    elf::R_X86_64_GLOB_DAT,
    elf::R_X86_64_JUMP_SLOT,
    elf::R_X86_64_RELATIVE,
    elf::R_X86_64_DTPMOD64,
    elf::R_X86_64_DTPOFF64,
    elf::R_X86_64_TPOFF64,
    elf::R_X86_64_IRELATIVE,
    elf::R_AARCH64_ABS64,
    elf::R_AARCH64_GLOB_DAT,
    elf::R_AARCH64_RELATIVE,
];

/// The file bytes that a loaded segment maps at `address`, `size` long.
fn file_bytes<'data>(
    file: &ElfFile64<'data, Endianness>,
    bytes: &'data [u8],
    address: u64,
    size: u64,
) -> Option<&'data [u8]> {
    let endian = file.endian();
    file.elf_program_headers().iter().find_map(|header| {
        let start = header.p_vaddr(endian);
        let end = start.checked_add(header.p_filesz(endian))?;
        if header.p_type(endian) != elf::PT_LOAD
            || address < start
            || address.checked_add(size)? > end
        {
            return None;
        }
        let offset = header.p_offset(endian).checked_add(address - start)?;
        bytes.get(usize::try_from(offset).ok()?..usize::try_from(offset.checked_add(size)?).ok()?)
    })
}

/// Whether `address` is mapped by a loaded segment (in its zero-filled part
/// too).
fn in_memory(file: &ElfFile64<'_, Endianness>, address: u64) -> bool {
    let endian = file.endian();
    file.elf_program_headers().iter().any(|header| {
        let start = header.p_vaddr(endian);
        header.p_type(endian) == elf::PT_LOAD
            && address >= start
            && address.saturating_add(8) <= start.saturating_add(header.p_memsz(endian))
    })
}

fn check_relocation_counts(value: &dyn Fn(DynamicTag) -> Option<u64>) -> Result<(), CheckError> {
    let entry_size = size_of::<elf::Rela64<Endianness>>() as u64;
    if value(elf::DT_RELAENT).is_some_and(|size| size != entry_size) {
        return Err(damaged(
            "relocation entries have a size other than 24 bytes".to_string(),
        ));
    }
    if let Some(count) = value(elf::DT_RELACOUNT) {
        let total = value(elf::DT_RELASZ).unwrap_or(0) / entry_size;
        if count > total {
            return Err(damaged(format!(
                "the dynamic section counts {count} relative relocations in a table of {total}"
            )));
        }
    }
    Ok(())
}

fn name(tag: DynamicTag) -> String {
    let named = [
        (elf::DT_NEEDED, "DT_NEEDED"),
        (elf::DT_SONAME, "DT_SONAME"),
        (elf::DT_RPATH, "DT_RPATH"),
        (elf::DT_RUNPATH, "DT_RUNPATH"),
        (elf::DT_STRTAB, "DT_STRTAB"),
        (elf::DT_SYMTAB, "DT_SYMTAB"),
        (elf::DT_RELA, "DT_RELA"),
        (elf::DT_JMPREL, "DT_JMPREL"),
        (elf::DT_INIT_ARRAY, "DT_INIT_ARRAY"),
        (elf::DT_GNU_HASH, "DT_GNU_HASH"),
        (elf::DT_VERSYM, "DT_VERSYM"),
    ];
    named
        .iter()
        .find(|(known, _)| *known == tag)
        .map_or_else(|| format!("{:#x}", tag.0), |(_, name)| name.to_string())
}

fn damaged(reason: String) -> CheckError {
    CheckError::Damaged { reason }
}
