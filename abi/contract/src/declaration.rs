//! The plain-data declaration the host reads from a file before opening it.
//!
//! Every plugin library exports one [`Declaration`] under
//! [`DECLARATION_SYMBOL`]. It holds no pointers, so its bytes sit in the file
//! exactly as they will in memory, and the host reads them with an object
//! file parser before any of the library's code can run. That lets the host
//! refuse an incompatible library, or a plugin excluded by configuration, or a
//! duplicate, in one line and without opening it.
//!
//! The payload is UTF-8 text, one `key value…` entry a line:
//!
//! ```text
//! greenroom-declaration 1
//! library hello-plugin
//! interface 1.1.0
//! sdk 1.0.0
//! abi_stable 0.11
//! async_ffi 0.5
//! plugin hello
//! module catalog hello-processor
//! ```
//!
//! Readers ignore keys they do not know, so later versions can add some.

use std::fmt;

/// The exported name of every library's declaration.
pub const DECLARATION_SYMBOL: &str = "GREENROOM_DECLARATION";

/// The bytes a declaration starts with.
pub const MAGIC: [u8; 16] = *b"greenroom-decl\0\x01";

/// How many bytes of text a declaration can hold.
pub const CAPACITY: usize = 4096;

const FORMAT_LINE: &str = "greenroom-declaration 1";

/// The declaration as it lies in the library file.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Declaration {
    /// Always [`MAGIC`].
    pub magic: [u8; 16],
    /// How many bytes of `text` are used, little-endian.
    pub len: [u8; 4],
    /// The text, padded with zeros.
    pub text: [u8; CAPACITY],
}

impl Declaration {
    /// The size of a declaration in bytes, as it lies in a file.
    pub const SIZE: usize = size_of::<Self>();
}

/// Builds a [`Declaration`] at compile time.
///
/// # Panics
///
/// Panics (at compile time, when used in a `static`) if a value is empty or
/// holds white space, or if the text outgrows [`CAPACITY`].
pub struct DeclarationBuilder {
    text: [u8; CAPACITY],
    len: usize,
}

impl DeclarationBuilder {
    /// Starts a declaration for `library`, built against `interface` with SDK
    /// version `sdk`.
    pub const fn new(library: &str, interface: &str, sdk: &str) -> Self {
        let builder = Self {
            text: [0; CAPACITY],
            len: 0,
        };
        builder
            .push(FORMAT_LINE)
            .push("\n")
            .entry("library", library)
            .entry("interface", interface)
            .entry("sdk", sdk)
            .entry("abi_stable", crate::ABI_STABLE_LINE)
            .entry("async_ffi", crate::ASYNC_FFI_LINE)
    }

    /// Declares a plugin provided by the library.
    pub const fn plugin(self, plugin_id: &str) -> Self {
        self.entry("plugin", plugin_id)
    }

    /// Declares a module, extending `plugin_id`, provided by the library.
    pub const fn module(self, plugin_id: &str, module_id: &str) -> Self {
        check_value(plugin_id);
        check_value(module_id);
        self.push("module ")
            .push(plugin_id)
            .push(" ")
            .push(module_id)
            .push("\n")
    }

    /// Finishes the declaration.
    pub const fn build(self) -> Declaration {
        let len = self.len as u32;
        Declaration {
            magic: MAGIC,
            len: len.to_le_bytes(),
            text: self.text,
        }
    }

    const fn entry(self, key: &str, value: &str) -> Self {
        check_value(value);
        self.push(key).push(" ").push(value).push("\n")
    }

    const fn push(mut self, piece: &str) -> Self {
        let bytes = piece.as_bytes();
        assert!(
            self.len + bytes.len() <= CAPACITY,
            "the plugin declaration is too long"
        );
        let mut index = 0;
        while index < bytes.len() {
            self.text[self.len + index] = bytes[index];
            index += 1;
        }
        self.len += bytes.len();
        self
    }
}

const fn check_value(value: &str) {
    let bytes = value.as_bytes();
    assert!(!bytes.is_empty(), "a declaration value is empty");
    let mut index = 0;
    while index < bytes.len() {
        assert!(
            !bytes[index].is_ascii_whitespace(),
            "a declaration value holds white space"
        );
        index += 1;
    }
}

/// A declaration read back from a library's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedDeclaration {
    /// The name of the library (its Cargo package).
    pub library: String,
    /// The interface version the library was built against.
    pub interface: String,
    /// The version of the SDK the library was built with.
    pub sdk: String,
    /// The abi_stable release line the library was built with.
    pub abi_stable: String,
    /// The async-ffi release line the library was built with, if it said.
    pub async_ffi: Option<String>,
    /// The ids of the plugins the library provides.
    pub plugins: Vec<String>,
    /// The modules the library provides, as `(plugin id, module id)`.
    pub modules: Vec<(String, String)>,
}

impl ParsedDeclaration {
    /// Reads a declaration from its bytes as they lie in a file.
    ///
    /// # Errors
    ///
    /// Returns an error saying what is wrong when the bytes are not a
    /// declaration this version can read.
    pub fn parse(bytes: &[u8]) -> Result<Self, DeclarationError> {
        if bytes.len() != Declaration::SIZE {
            return Err(DeclarationError::Size(bytes.len()));
        }
        if bytes[..16] != MAGIC {
            return Err(DeclarationError::Magic);
        }
        let len = u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]) as usize;
        if len > CAPACITY {
            return Err(DeclarationError::Length(len));
        }
        let text =
            std::str::from_utf8(&bytes[20..20 + len]).map_err(|_| DeclarationError::NotUtf8)?;
        Self::parse_text(text)
    }

    fn parse_text(text: &str) -> Result<Self, DeclarationError> {
        let mut lines = text.lines();
        if lines.next() != Some(FORMAT_LINE) {
            return Err(DeclarationError::Format);
        }

        let mut declaration = Self {
            library: String::new(),
            interface: String::new(),
            sdk: String::new(),
            abi_stable: String::new(),
            async_ffi: None,
            plugins: Vec::new(),
            modules: Vec::new(),
        };
        for line in lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["library", value] => declaration.library = value.to_string(),
                ["interface", value] => declaration.interface = value.to_string(),
                ["sdk", value] => declaration.sdk = value.to_string(),
                ["abi_stable", value] => declaration.abi_stable = value.to_string(),
                ["async_ffi", value] => declaration.async_ffi = Some(value.to_string()),
                ["plugin", id] => declaration.plugins.push(id.to_string()),
                ["module", plugin_id, module_id] => declaration
                    .modules
                    .push((plugin_id.to_string(), module_id.to_string())),
                [key, ..] if is_known_key(key) => {
                    return Err(DeclarationError::Entry(line.to_string()));
                }
                _ => {}
            }
        }

        for (key, value) in [
            ("library", &declaration.library),
            ("interface", &declaration.interface),
            ("sdk", &declaration.sdk),
            ("abi_stable", &declaration.abi_stable),
        ] {
            if value.is_empty() {
                return Err(DeclarationError::Missing(key));
            }
        }
        Ok(declaration)
    }
}

fn is_known_key(key: &str) -> bool {
    matches!(
        key,
        "library" | "interface" | "sdk" | "abi_stable" | "async_ffi" | "plugin" | "module"
    )
}

/// Why bytes could not be read as a declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeclarationError {
    /// The symbol has the wrong size.
    Size(usize),
    /// The bytes do not start with [`MAGIC`].
    Magic,
    /// The length field exceeds [`CAPACITY`].
    Length(usize),
    /// The text is not UTF-8.
    NotUtf8,
    /// The text does not start with the format line.
    Format,
    /// A known key has the wrong number of values.
    Entry(String),
    /// A required key is absent.
    Missing(&'static str),
}

impl fmt::Display for DeclarationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Size(size) => write!(
                f,
                "the declaration is {size} bytes, expected {}",
                Declaration::SIZE
            ),
            Self::Magic => f.write_str("the declaration does not start with its magic bytes"),
            Self::Length(len) => write!(f, "the declaration claims {len} bytes of text"),
            Self::NotUtf8 => f.write_str("the declaration text is not UTF-8"),
            Self::Format => f.write_str("the declaration is in an unknown format"),
            Self::Entry(line) => write!(f, "the declaration line `{line}` is malformed"),
            Self::Missing(key) => write!(f, "the declaration has no `{key}` entry"),
        }
    }
}

impl std::error::Error for DeclarationError {}

#[cfg(test)]
mod tests {
    use super::*;

    static EXAMPLE: Declaration = DeclarationBuilder::new("hello-plugin", "1.1.0", "1.0.0")
        .plugin("hello")
        .module("catalog", "hello-processor")
        .build();

    fn as_bytes(declaration: &Declaration) -> Vec<u8> {
        let mut bytes = declaration.magic.to_vec();
        bytes.extend_from_slice(&declaration.len);
        bytes.extend_from_slice(&declaration.text);
        bytes
    }

    #[test]
    fn a_built_declaration_reads_back() {
        let parsed = ParsedDeclaration::parse(&as_bytes(&EXAMPLE)).unwrap();

        assert_eq!(parsed.library, "hello-plugin");
        assert_eq!(parsed.interface, "1.1.0");
        assert_eq!(parsed.sdk, "1.0.0");
        assert_eq!(parsed.abi_stable, crate::ABI_STABLE_LINE);
        assert_eq!(parsed.async_ffi.as_deref(), Some(crate::ASYNC_FFI_LINE));
        assert_eq!(parsed.plugins, ["hello"]);
        assert_eq!(
            parsed.modules,
            [("catalog".to_string(), "hello-processor".to_string())]
        );
    }

    #[test]
    fn the_size_matches_the_bytes() {
        assert_eq!(as_bytes(&EXAMPLE).len(), Declaration::SIZE);
    }

    #[test]
    fn damaged_declarations_are_refused() {
        let good = as_bytes(&EXAMPLE);

        let mut bad_magic = good.clone();
        bad_magic[0] = b'x';
        assert_eq!(
            ParsedDeclaration::parse(&bad_magic),
            Err(DeclarationError::Magic)
        );

        let mut long = good.clone();
        long[16..20].copy_from_slice(&(CAPACITY as u32 + 1).to_le_bytes());
        assert_eq!(
            ParsedDeclaration::parse(&long),
            Err(DeclarationError::Length(CAPACITY + 1))
        );

        let mut not_utf8 = good.clone();
        not_utf8[30] = 0xff;
        assert_eq!(
            ParsedDeclaration::parse(&not_utf8),
            Err(DeclarationError::NotUtf8)
        );

        assert_eq!(
            ParsedDeclaration::parse(&good[..100]),
            Err(DeclarationError::Size(100))
        );
    }

    #[test]
    fn missing_and_malformed_entries_are_named() {
        assert_eq!(
            ParsedDeclaration::parse_text("greenroom-declaration 1\nlibrary x\n"),
            Err(DeclarationError::Missing("interface"))
        );
        assert_eq!(
            ParsedDeclaration::parse_text("greenroom-declaration 1\nplugin a b\n"),
            Err(DeclarationError::Entry("plugin a b".to_string()))
        );
        assert_eq!(
            ParsedDeclaration::parse_text("greenroom-declaration 2\n"),
            Err(DeclarationError::Format)
        );
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let text = "greenroom-declaration 1\nlibrary x\ninterface 1.1.0\nsdk 1.0.0\n\
                    abi_stable 0.11\nfuture-key whatever\n";
        assert_eq!(ParsedDeclaration::parse_text(text).unwrap().library, "x");
    }
}
