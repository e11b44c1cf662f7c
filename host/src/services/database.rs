//! The database service: each plugin gets a database of its own. By
//! default an SQLite file under the data directory (`<data>/<pluginId>/
//! database.sqlite`, its directory made private); with PostgreSQL
//! configured, the shared connection and a schema named after the plugin.
//! The host hands out where the database is; the plugin brings its own
//! client library.

use camino::Utf8PathBuf;

/// Where plugins' databases live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseClient {
    /// One SQLite file per plugin under this directory.
    Sqlite {
        /// The data directory.
        directory: Utf8PathBuf,
    },
    /// One schema per plugin in this PostgreSQL database.
    Postgres {
        /// The connection URL (a secret).
        connection: String,
    },
}

impl Default for DatabaseClient {
    fn default() -> Self {
        Self::Sqlite {
            directory: Utf8PathBuf::from("data"),
        }
    }
}

/// A plugin's database as the host assigns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assigned {
    /// `sqlite` or `postgres`.
    pub client: &'static str,
    /// The SQLite file, or the PostgreSQL connection URL.
    pub connection: String,
    /// The PostgreSQL schema, empty for SQLite.
    pub schema: String,
}

impl DatabaseClient {
    /// The database of `plugin_id`, making its directory if it uses SQLite.
    ///
    /// # Errors
    ///
    /// Returns why the plugin's directory cannot be made.
    pub fn assign(&self, plugin_id: &str) -> Result<Assigned, String> {
        match self {
            Self::Sqlite { directory } => {
                let dir = directory.join(plugin_id);
                make_private_dirs(&dir).map_err(|error| {
                    format!(
                        "cannot make the database directory {dir}: {error}; set a writable \
                         backend.database.directory"
                    )
                })?;
                let file = std::path::absolute(dir.join("database.sqlite"))
                    .map_err(|error| error.to_string())?;
                Ok(Assigned {
                    client: "sqlite",
                    connection: file.to_string_lossy().into_owned(),
                    schema: String::new(),
                })
            }
            Self::Postgres { connection } => Ok(Assigned {
                client: "postgres",
                connection: connection.clone(),
                schema: format!("plugin_{}", plugin_id.replace('-', "_")),
            }),
        }
    }
}

fn make_private_dirs(dir: &camino::Utf8Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent()
        && !parent.as_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    match crate::platform::create_private_dir(dir.as_std_path()) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_plugin_gets_its_own_file_or_schema() {
        let directory = Utf8PathBuf::from_path_buf(std::env::temp_dir())
            .unwrap()
            .join(format!("greenroom-db-{}", std::process::id()));
        let sqlite = DatabaseClient::Sqlite {
            directory: directory.clone(),
        };
        let assigned = sqlite.assign("catalog").unwrap();
        assert_eq!(assigned.client, "sqlite");
        assert!(
            assigned.connection.ends_with("/catalog/database.sqlite"),
            "{assigned:?}"
        );
        assert!(directory.join("catalog").is_dir());
        assert_eq!(sqlite.assign("catalog").unwrap(), assigned);

        let postgres = DatabaseClient::Postgres {
            connection: "postgres://db/backstage".to_string(),
        };
        assert_eq!(
            postgres.assign("tech-insights").unwrap().schema,
            "plugin_tech_insights"
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
