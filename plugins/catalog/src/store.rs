//! The catalog's own database: the entities last served, their processing
//! errors and locations, so that after a restart the catalog serves at once
//! what it served before, while its providers read their sources again.

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::snapshot::{Location, ProcessingError};

/// What the catalog served when it last changed.
#[derive(Default)]
pub(crate) struct Stored {
    /// The entities, stitched, in ref order.
    pub(crate) entities: Vec<Value>,
    /// The processing errors.
    pub(crate) errors: Vec<ProcessingError>,
    /// The locations the providers read.
    pub(crate) locations: Vec<Location>,
}

/// The catalog's SQLite database.
///
/// No connection stays open. A reloaded catalog is a second copy of this
/// library, with its own copy of SQLite, beside the first until the swap;
/// two copies of SQLite in one process do not see each other's locks, so
/// each use takes a lock of its own on `<file>.lock` (which does exclude
/// another open file in the same process), opens the database, works and
/// closes it. The journal is a plain rollback journal: a write-ahead log
/// would be deleted by whichever copy closed last.
pub(crate) struct Store {
    path: String,
}

impl Store {
    /// Opens (or creates) the database file at `path`.
    ///
    /// # Errors
    ///
    /// Returns SQLite's reason when the file cannot be opened or its tables
    /// made.
    pub(crate) fn open(path: &str) -> Result<Self, String> {
        let store = Self {
            path: path.to_string(),
        };
        store.with_connection(|connection| {
            connection.execute_batch(
                "CREATE TABLE IF NOT EXISTS entities (
                     position INTEGER PRIMARY KEY,
                     body TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS processing_errors (
                     position INTEGER PRIMARY KEY,
                     body TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS locations (
                     position INTEGER PRIMARY KEY,
                     body TEXT NOT NULL
                 );",
            )
        })?;
        Ok(store)
    }

    /// Reads what was stored last.
    ///
    /// # Errors
    ///
    /// Returns SQLite's reason, or names a row that is not valid JSON.
    pub(crate) fn load(&self) -> Result<Stored, String> {
        self.with_connection(|connection| {
            Ok(Stored {
                entities: rows(connection, "entities")?,
                errors: rows(connection, "processing_errors")?,
                locations: rows(connection, "locations")?,
            })
        })
    }

    /// Replaces what is stored with `stored`, all at once.
    ///
    /// # Errors
    ///
    /// Returns SQLite's reason; nothing changed then.
    pub(crate) fn save(&self, stored: &Stored) -> Result<(), String> {
        self.with_connection(|connection| {
            let transaction = connection.transaction()?;
            replace(&transaction, "entities", &stored.entities)?;
            replace(&transaction, "processing_errors", &stored.errors)?;
            replace(&transaction, "locations", &stored.locations)?;
            transaction.commit()
        })
    }

    /// Runs `work` on a connection of its own, holding the lock.
    fn with_connection<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, String> {
        let path = &self.path;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(format!("{path}.lock"))
            .map_err(|error| format!("cannot lock the catalog database {path}: {error}"))?;
        lock.lock()
            .map_err(|error| format!("cannot lock the catalog database {path}: {error}"))?;
        let failed = |error: rusqlite::Error| format!("the catalog database {path}: {error}");
        let mut connection = Connection::open(path).map_err(failed)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(failed)?;
        connection
            .pragma_update(None, "journal_mode", "DELETE")
            .map_err(failed)?;
        let outcome = work(&mut connection).map_err(failed);
        drop(connection);
        drop(lock);
        outcome
    }
}

/// Every row of `table`, in order.
fn rows<T: serde::de::DeserializeOwned>(
    connection: &Connection,
    table: &str,
) -> rusqlite::Result<Vec<T>> {
    let mut statement = connection.prepare(&format!(
        "SELECT position, body FROM {table} ORDER BY position"
    ))?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    rows.map(|row| {
        let (position, body) = row?;
        serde_json::from_str(&body).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(
                usize::try_from(position).unwrap_or(0),
                rusqlite::types::Type::Text,
                Box::new(error),
            )
        })
    })
    .collect()
}

fn replace<T: serde::Serialize>(
    transaction: &rusqlite::Transaction<'_>,
    table: &str,
    items: &[T],
) -> rusqlite::Result<()> {
    transaction.execute(&format!("DELETE FROM {table}"), [])?;
    let mut insert = transaction.prepare(&format!(
        "INSERT INTO {table} (position, body) VALUES (?1, ?2)"
    ))?;
    for (position, item) in items.iter().enumerate() {
        let body = serde_json::to_string(item).unwrap_or_default();
        insert.execute(params![position as i64, body])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn what_is_saved_is_loaded_again_after_reopening() {
        let dir = std::env::temp_dir().join(format!("catalog-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let path = dir.join("catalog.sqlite");
        let path = path.to_str().expect("a UTF-8 path");
        let stored = Stored {
            entities: vec![json!({"kind": "Component", "metadata": {"name": "a"}})],
            errors: vec![ProcessingError {
                entity_ref: None,
                location: "file:/x.yaml".to_string(),
                message: "unreadable".to_string(),
            }],
            locations: vec![Location {
                id: "l".to_string(),
                kind: "file".to_string(),
                target: "/x.yaml".to_string(),
            }],
        };

        Store::open(path)
            .and_then(|store| store.save(&stored))
            .expect("saved");
        let loaded = Store::open(path)
            .and_then(|store| store.load())
            .expect("loaded");

        assert_eq!(loaded.entities, stored.entities);
        assert_eq!(loaded.errors, stored.errors);
        assert_eq!(loaded.locations, stored.locations);
        std::fs::remove_dir_all(&dir).ok();
    }
}
