//! Integrity pins: `backend.plugins.sha256` maps a file name (`catalog.so`)
//! or a plugin id (`catalog`) to the SHA-256 its file must have. A file
//! whose hash differs from a pin on its name or on any plugin it declares
//! is refused before it is opened.

use std::collections::BTreeMap;

use camino::Utf8Path;
use greenroom_contract::ParsedDeclaration;

use super::CheckError;

/// The configured pins, by file name or plugin id; hashes in lowercase hex.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins(BTreeMap<String, String>);

impl Pins {
    /// Pins `key` (a file name or plugin id) to `hash`, which may start
    /// with `sha256:`.
    ///
    /// # Errors
    ///
    /// Says why when the hash is not 64 hex digits.
    pub fn insert(&mut self, key: &str, hash: &str) -> Result<(), String> {
        let digits = hash
            .strip_prefix("sha256:")
            .unwrap_or(hash)
            .to_ascii_lowercase();
        if digits.len() != 64 || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(format!(
                "the pin for {key} is not a SHA-256 (64 hex digits, as `greenroom inspect` shows)"
            ));
        }
        self.0.insert(key.to_string(), digits);
        Ok(())
    }

    /// The pins whose key is none of `names` (file names and plugin ids).
    pub fn unmatched<'a>(&'a self, names: &std::collections::BTreeSet<String>) -> Vec<&'a str> {
        self.0
            .keys()
            .filter(|key| !names.contains(key.as_str()))
            .map(String::as_str)
            .collect()
    }

    /// Checks a file's hash against the pins on its name and its plugins.
    ///
    /// # Errors
    ///
    /// Names the first pin the hash does not match.
    pub(super) fn check(
        &self,
        path: &Utf8Path,
        declaration: &ParsedDeclaration,
        sha256: &str,
    ) -> Result<(), CheckError> {
        let keys = path
            .file_name()
            .into_iter()
            .chain(declaration.plugins.iter().map(String::as_str));
        for key in keys {
            if let Some(pinned) = self.0.get(key)
                && pinned != sha256
            {
                return Err(CheckError::PinMismatch {
                    key: key.to_string(),
                    pinned: pinned.clone(),
                    found: sha256.to_string(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration(plugins: &[&str]) -> ParsedDeclaration {
        ParsedDeclaration {
            library: "l".to_string(),
            interface: "1.1.0".to_string(),
            sdk: "1.0.0".to_string(),
            abi_stable: "0.11".to_string(),
            async_ffi: None,
            plugins: plugins.iter().map(|id| (*id).to_string()).collect(),
            modules: Vec::new(),
        }
    }

    #[test]
    fn a_pin_on_the_file_name_or_a_declared_plugin_must_match() {
        let good = "a".repeat(64);
        let other = "b".repeat(64);
        let mut pins = Pins::default();
        pins.insert("catalog.so", &format!("sha256:{}", good.to_uppercase()))
            .expect("a valid pin");
        pins.insert("search", &good).expect("a valid pin");
        let path = Utf8Path::new("/p/catalog.so");

        assert!(pins.check(path, &declaration(&["catalog"]), &good).is_ok());
        assert!(
            pins.check(Utf8Path::new("/p/x.so"), &declaration(&["x"]), &other)
                .is_ok()
        );
        assert_eq!(
            pins.check(path, &declaration(&["catalog"]), &other)
                .expect_err("the file's pin differs")
                .to_string(),
            format!(
                "its SHA-256 is {other}, but backend.plugins.sha256 pins {good} for catalog.so; \
                 install the pinned build, or pin the new one if you trust it"
            )
        );
        assert!(
            pins.check(
                Utf8Path::new("/p/renamed.so"),
                &declaration(&["search"]),
                &other
            )
            .is_err()
        );
    }

    #[test]
    fn a_malformed_hash_is_refused() {
        assert_eq!(
            Pins::default()
                .insert("catalog", "abc")
                .expect_err("too short"),
            "the pin for catalog is not a SHA-256 (64 hex digits, as `greenroom inspect` shows)"
        );
    }
}
