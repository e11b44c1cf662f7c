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
pub(crate) struct Store {
    connection: Connection,
}

impl Store {
    /// Opens (or creates) the database file at `path`.
    ///
    /// # Errors
    ///
    /// Returns SQLite's reason when the file cannot be opened or its tables
    /// made.
    pub(crate) fn open(path: &str) -> Result<Self, String> {
        let connection = Connection::open(path)
            .map_err(|error| format!("cannot open the catalog database {path}: {error}"))?;
        // A reloaded catalog's new generation writes while the old one may
        // still finish a refresh: wait for the other writer, do not fail.
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|error| format!("cannot configure the catalog database {path}: {error}"))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS entities (
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
            .map_err(|error| format!("cannot prepare the catalog database {path}: {error}"))?;
        Ok(Self { connection })
    }

    /// Reads what was stored last.
    ///
    /// # Errors
    ///
    /// Returns SQLite's reason, or names a row that is not valid JSON.
    pub(crate) fn load(&self) -> Result<Stored, String> {
        Ok(Stored {
            entities: self.rows("entities")?,
            errors: self.rows("processing_errors")?,
            locations: self.rows("locations")?,
        })
    }

    /// Replaces what is stored with `stored`, all at once.
    ///
    /// # Errors
    ///
    /// Returns SQLite's reason; nothing changed then.
    pub(crate) fn save(&mut self, stored: &Stored) -> Result<(), String> {
        let failed = |error: rusqlite::Error| format!("cannot save the catalog: {error}");
        let transaction = self.connection.transaction().map_err(failed)?;
        replace(&transaction, "entities", &stored.entities).map_err(failed)?;
        replace(&transaction, "processing_errors", &stored.errors).map_err(failed)?;
        replace(&transaction, "locations", &stored.locations).map_err(failed)?;
        transaction.commit().map_err(failed)
    }

    fn rows<T: serde::de::DeserializeOwned>(&self, table: &str) -> Result<Vec<T>, String> {
        let failed = |error: rusqlite::Error| format!("cannot read the catalog's {table}: {error}");
        let mut statement = self
            .connection
            .prepare(&format!(
                "SELECT position, body FROM {table} ORDER BY position"
            ))
            .map_err(failed)?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(failed)?;
        rows.map(|row| {
            let (position, body) = row.map_err(failed)?;
            serde_json::from_str(&body).map_err(|error| {
                format!("row {position} of the catalog's {table} is not valid: {error}")
            })
        })
        .collect()
    }
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
            .and_then(|mut store| store.save(&stored))
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
