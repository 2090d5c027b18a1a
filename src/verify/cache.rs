//! The verification cache: a SQLite file that remembers each key's status for a while, so a
//! pre-commit hook that runs ten times an hour asks the provider once.
//!
//! Rows are keyed by HMAC-SHA256 of the API base and the key, under a random 32-byte secret
//! kept beside the database (mode 0600). The key itself is never stored, and without the
//! secret file the hashes cannot be tested against a list of leaked keys.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Sha256;

use crate::finding::{Verification, VerificationStatus};
use crate::fs::now_seconds;
use crate::secret::Secret;

/// Why the verification cache cannot be used (verification then runs without it).
#[derive(Debug, thiserror::Error)]
#[error("verification cache {}", path.display())]
pub struct CacheError {
    path: PathBuf,
    #[source]
    cause: CacheCause,
}

#[derive(Debug, thiserror::Error)]
enum CacheCause {
    #[error(transparent)]
    Open(#[from] crate::fs::PrivateDbError),
    /// The HMAC secret beside the database.
    #[error("secret")]
    Secret(#[source] crate::fs::FsError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

pub struct Cache {
    connection: Mutex<Connection>,
    hmac_key: [u8; 32],
    ttl: Duration,
}

/// Reads the HMAC secret beside the database, creating it (0600) on first use.
fn hmac_key(path: &Path) -> Result<[u8; 32], crate::fs::FsError> {
    let mut file = crate::fs::open_private_file(path, false)?;
    let mut bytes = Vec::new();
    let io = |source| crate::fs::FsError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io)?;
    if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| io(e.into()))?;
    std::io::Write::write_all(&mut crate::fs::create_private_file(path)?, &key).map_err(io)?;
    Ok(key)
}

impl Cache {
    pub fn open(path: &Path, ttl: Duration) -> Result<Cache, CacheError> {
        let fail = |cause: CacheCause| CacheError {
            path: path.to_path_buf(),
            cause,
        };
        let connection = crate::fs::open_private_db(path).map_err(|e| fail(e.into()))?;
        let hmac_key =
            hmac_key(&path.with_extension("key")).map_err(|e| fail(CacheCause::Secret(e)))?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS verification (
                     key_hash TEXT PRIMARY KEY,
                     result TEXT NOT NULL,
                     checked_at INTEGER NOT NULL
                 );",
            )
            .map_err(|e| fail(e.into()))?;
        Ok(Cache {
            connection: Mutex::new(connection),
            hmac_key,
            ttl,
        })
    }

    fn key_hash(&self, api_base: &str, secret: &Secret) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.hmac_key).expect("HMAC takes any key length");
        mac.update(api_base.as_bytes());
        mac.update(&[0]);
        mac.update(secret.expose());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A result younger than the TTL, if any.
    pub fn get(&self, api_base: &str, secret: &Secret) -> Option<Verification> {
        let hash = self.key_hash(api_base, secret);
        let oldest = now_seconds() - self.ttl.as_secs() as i64;
        let connection = self.connection.lock().ok()?;
        let text: Option<String> = connection
            .query_row(
                "SELECT result FROM verification WHERE key_hash = ?1 AND checked_at >= ?2",
                params![hash, oldest],
                |row| row.get(0),
            )
            .optional()
            .ok()?;
        serde_json::from_str(&text?).ok()
    }

    pub fn remove(&self, api_base: &str, secret: &Secret) {
        let hash = self.key_hash(api_base, secret);
        if let Ok(connection) = self.connection.lock() {
            // A failed delete leaves a stale entry until its time to live ends.
            let _ = connection.execute(
                "DELETE FROM verification WHERE key_hash = ?1",
                params![hash],
            );
        }
    }

    /// Remembers a definite result (errors and unverified keys are asked again next time).
    pub fn put(&self, api_base: &str, secret: &Secret, verification: &Verification) {
        if matches!(
            verification.status,
            VerificationStatus::Error | VerificationStatus::Unverified
        ) {
            return;
        }
        let Ok(result) = serde_json::to_string(verification) else {
            return;
        };
        let hash = self.key_hash(api_base, secret);
        if let Ok(connection) = self.connection.lock() {
            // A failed write only costs a request next time.
            let _ = connection.execute(
                "INSERT OR REPLACE INTO verification (key_hash, result, checked_at)
                 VALUES (?1, ?2, ?3)",
                params![hash, result, now_seconds()],
            );
        }
    }
}
