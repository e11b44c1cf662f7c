//! Reading placeholders' URLs: only from the hosts configured under
//! `catalog.reading.allow`, each response bounded in size and time.

use std::time::Duration;

use greenroom_catalog_model::yaml::MAX_TEXT_BYTES;
use greenroom_sdk::Config;

/// How long one read may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Reads URLs from allowed hosts.
#[derive(Default)]
pub(crate) struct Reader {
    /// `host` or `host:port`, lowercased.
    allowed: Vec<String>,
}

impl Reader {
    /// The reader `catalog.reading.allow` configures: a list of `{host}`.
    ///
    /// # Errors
    ///
    /// Names the key of a malformed entry.
    pub(crate) fn from_config(config: &Config) -> Result<Self, String> {
        let allowed = config
            .optional_sections("reading.allow")
            .map_err(|error| error.to_string())?
            .unwrap_or_default()
            .iter()
            .map(|allowed| allowed.string("host").map(|host| host.to_lowercase()))
            .collect::<Result<_, _>>()
            .map_err(|error| error.to_string())?;
        Ok(Self { allowed })
    }

    /// Reads `url` as text.
    ///
    /// # Errors
    ///
    /// Says why: the host is not allowed (and how to allow it), the request
    /// failed, the response was not a success or was too large.
    pub(crate) fn read(&self, url: &str) -> Result<String, String> {
        let host = authority(url).to_lowercase();
        if !self.allowed.contains(&host) {
            return Err(format!(
                "no reader may read from {host}; to read it, add {{host: {host}}} to \
                 catalog.reading.allow"
            ));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .max_redirects(0)
            .build()
            .into();
        let mut response = agent
            .get(url)
            .call()
            .map_err(|error| format!("cannot read {url}: {error}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "cannot read {url}: it answered {}",
                response.status()
            ));
        }
        response
            .body_mut()
            .with_config()
            .limit(MAX_TEXT_BYTES as u64)
            .read_to_string()
            .map_err(|error| format!("cannot read {url}: {error}"))
    }
}

/// The `host[:port]` of an `http(s)://` URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit('@').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_not_allowed_is_refused_with_the_fix() {
        let error = Reader::default()
            .read("https://GitHub.com/a/b.yaml")
            .expect_err("not allowed");

        assert_eq!(
            error,
            "no reader may read from github.com; to read it, add {host: github.com} to \
             catalog.reading.allow"
        );
    }

    #[test]
    fn the_authority_ignores_credentials_path_and_query() {
        assert_eq!(
            authority("http://user@127.0.0.1:8080/x?y#z"),
            "127.0.0.1:8080"
        );
        assert_eq!(authority("https://example.com"), "example.com");
    }
}
