//! Checks on the object file itself, done with a parser before any loading.

use greenroom_contract::{
    DECLARATION_SYMBOL, Declaration, ParsedDeclaration, ROOT_MODULE_SYMBOL,
    declaration::DeclarationError,
};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};

use super::CheckError;
use crate::platform;

/// Checks that `bytes` are a complete library of this platform exporting a
/// Greenroom declaration and root module, and returns the declaration.
pub(super) fn read_declaration(bytes: &[u8]) -> Result<ParsedDeclaration, CheckError> {
    if object::FileKind::parse(bytes).is_err() {
        return Err(CheckError::NotObject);
    }
    let file = object::File::parse(bytes).map_err(|error| CheckError::Damaged {
        reason: error.to_string(),
    })?;
    check_platform(&file, bytes)?;
    check_complete(&file, bytes.len() as u64)?;
    #[cfg(target_os = "linux")]
    super::elf::check_dynamic(bytes)?;

    let declaration_bytes =
        exported_data(&file, DECLARATION_SYMBOL)?.ok_or(CheckError::NotAPlugin {
            symbol: DECLARATION_SYMBOL,
        })?;
    let declaration = ParsedDeclaration::parse(declaration_bytes)?;
    if find_exported(&file, ROOT_MODULE_SYMBOL).is_none() {
        return Err(CheckError::NoRootModule);
    }
    Ok(declaration)
}

fn check_platform(file: &object::File<'_>, bytes: &[u8]) -> Result<(), CheckError> {
    let expected = format!("{:?} {:?}", platform::OBJECT_FORMAT, platform::ARCHITECTURE);
    if file.format() != platform::OBJECT_FORMAT || file.architecture() != platform::ARCHITECTURE {
        return Err(CheckError::WrongPlatform {
            found: format!("a {:?} {:?} file", file.format(), file.architecture()),
            expected,
        });
    }
    if platform::is_executable(file, bytes) {
        return Err(CheckError::Executable);
    }
    if file.kind() != object::ObjectKind::Dynamic {
        return Err(CheckError::WrongPlatform {
            found: format!("a {:?} object, not a shared library", file.kind()),
            expected,
        });
    }
    Ok(())
}

/// Checks that every loadable segment and every section lies inside the file.
fn check_complete(file: &object::File<'_>, len: u64) -> Result<(), CheckError> {
    let segment_ranges = file.segments().map(|segment| segment.file_range());
    let section_ranges = file.sections().filter_map(|section| section.file_range());
    for (offset, size) in segment_ranges.chain(section_ranges) {
        let end = offset.saturating_add(size);
        if end > len {
            return Err(CheckError::Truncated { end, len });
        }
    }
    Ok(())
}

fn find_exported<'data, 'file>(
    file: &'file object::File<'data>,
    name: &str,
) -> Option<object::Symbol<'data, 'file>> {
    file.dynamic_symbols()
        .find(|symbol| symbol.is_definition() && symbol.name() == Ok(name))
}

/// Reads the bytes of an exported data symbol, if the file exports it.
fn exported_data<'data>(
    file: &object::File<'data>,
    name: &str,
) -> Result<Option<&'data [u8]>, CheckError> {
    let Some(symbol) = find_exported(file, name) else {
        return Ok(None);
    };
    if symbol.size() != Declaration::SIZE as u64 {
        return Err(DeclarationError::Size(symbol.size() as usize).into());
    }
    let not_in_file = || CheckError::Damaged {
        reason: format!("the symbol {name} does not point into the file"),
    };
    let index = symbol.section_index().ok_or_else(not_in_file)?;
    let section = file.section_by_index(index).map_err(|_| not_in_file())?;
    let data = section
        .data_range(symbol.address(), symbol.size())
        .map_err(|_| not_in_file())?
        .ok_or_else(not_in_file)?;
    Ok(Some(data))
}
