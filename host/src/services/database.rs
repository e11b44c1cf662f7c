//! The database service: each plugin gets a database of its own. By
//! default an SQLite file under the data directory (`<data>/<pluginId>/
//! database.sqlite`, its directory made private); with PostgreSQL
//! configured, the shared connection and a schema named after the plugin,
//! which the host creates the first time the plugin asks. The host hands
//! out where the database is; the plugin brings its own client library.

use std::{
    collections::BTreeMap,
    fs::{File, TryLockError},
    io::{Read as _, Write as _},
    path::PathBuf,
    sync::Mutex,
};

use camino::{Utf8Path, Utf8PathBuf};

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
                hold(&dir)?;
                let file = std::path::absolute(dir.join("database.sqlite"))
                    .map_err(|error| error.to_string())?;
                Ok(Assigned {
                    client: "sqlite",
                    connection: file.to_string_lossy().into_owned(),
                    schema: String::new(),
                })
            }
            Self::Postgres { connection } => {
                let schema = format!("plugin_{}", plugin_id.replace('-', "_"));
                create_schema(connection, &schema)?;
                Ok(Assigned {
                    client: "postgres",
                    connection: connection.clone(),
                    schema,
                })
            }
        }
    }
}

/// The plugins' database directories this process holds, each by a lock
/// on its `database.lock`, for as long as the process runs: two hosts
/// writing one plugin's database would each believe it alone.
static HELD: Mutex<BTreeMap<PathBuf, File>> = Mutex::new(BTreeMap::new());

/// Holds `dir` for this process, unless another process holds it; within
/// the process (generations of a reloaded plugin, hosts a test starts) it
/// is held once.
fn hold(dir: &Utf8Path) -> Result<(), String> {
    let cannot = |error: &dyn std::fmt::Display| {
        format!("cannot lock the database directory {dir}: {error}")
    };
    let key = std::fs::canonicalize(dir).map_err(|error| cannot(&error))?;
    let mut held = HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if held.contains_key(&key) {
        return Ok(());
    }
    let path = dir.join("database.lock");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|error| cannot(&error))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let by = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("another process (pid {holder})")
            };
            return Err(format!(
                "the database directory {dir} is in use by {by}, another greenroom host; give \
                 each host its own backend.database.directory"
            ));
        }
        Err(TryLockError::Error(error)) => return Err(cannot(&error)),
    }
    // Who holds it, for the message another host gives.
    let _ = file.set_len(0);
    let _ = write!(file, "{}", std::process::id());
    held.insert(key, file);
    Ok(())
}

/// Creates `schema` in the PostgreSQL database at `connection` unless it
/// exists. Runs on a thread of its own, so that it can be called from
/// inside any runtime.
fn create_schema(connection: &str, schema: &str) -> Result<(), String> {
    let failed = |error: &dyn std::fmt::Display| {
        format!(
            "cannot create the PostgreSQL schema {schema}: {error}; check that the server at \
             backend.database.connection runs and lets its user create schemas"
        )
    };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|error| failed(&error))?;
                runtime.block_on(async {
                    let (client, driver) =
                        tokio_postgres::connect(connection, tokio_postgres::NoTls)
                            .await
                            .map_err(|error| failed(&error))?;
                    let driver = tokio::spawn(driver);
                    // The schema's name comes from a validated plugin id:
                    // lowercase letters, digits and underscores.
                    let created = client
                        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                        .await
                        .map_err(|error| failed(&error));
                    drop(client);
                    let _ = driver.await;
                    created
                })
            })
            .join()
            .unwrap_or_else(|_| Err(failed(&"the connecting thread panicked")))
    })
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

        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn a_postgres_server_that_cannot_be_reached_is_named_with_the_fix() {
        let unreachable = DatabaseClient::Postgres {
            connection: "postgres://user:hidden-password@127.0.0.1:1/db?connect_timeout=5"
                .to_string(),
        };

        let error = unreachable
            .assign("tech-insights")
            .expect_err("nothing listens");

        assert!(
            error.starts_with("cannot create the PostgreSQL schema plugin_tech_insights: "),
            "{error}"
        );
        assert!(
            error.ends_with(
                "; check that the server at backend.database.connection runs and lets its user \
                 create schemas"
            ),
            "{error}"
        );
        assert!(!error.contains("hidden-password"), "{error}");
    }
}
