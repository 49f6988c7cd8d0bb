//! On-disk cache of compiled Hyperscan databases (`hs_serialize_database`), so that a restart
//! with unchanged patterns skips compilation.
//!
//! The file name is the SHA-256 of the Hyperscan version, the mode and every (id, flags,
//! expression) compiled; the file starts with the SHA-256 of the serialized bytes, which is
//! checked before `hs_deserialize_database`, so a truncated or corrupted file is recompiled
//! rather than loaded. A loaded database must have the same Hyperscan info string (version, CPU
//! features, mode) as one compiled here, so a cache written on another CPU is recompiled. The cache
//! directory must be writable only by the sensor: Hyperscan trusts a database's bytecode.
//! Cache failures are never fatal: they fall back to compiling.

use std::path::{Path, PathBuf};

use hyperscan::{Builder as _, Database, Mode, Patterns, SerializedDatabase as _};
use sha2::{Digest, Sha256};

use crate::BuildOptions;

/// Largest cache file read back.
const MAX_CACHE_FILE_BYTES: u64 = 512 * 1024 * 1024;

fn key<M: Mode>(p: &Patterns) -> String {
    let mut h = Sha256::new();
    h.update(hyperscan::version_str().to_bytes());
    h.update([0]);
    h.update(M::NAME.as_bytes());
    for pat in p.iter() {
        h.update([0]);
        h.update(
            u64::try_from(pat.id.unwrap_or(0))
                .unwrap_or(u64::MAX)
                .to_le_bytes(),
        );
        h.update(pat.flags.bits().to_le_bytes());
        h.update(
            u64::try_from(pat.expression.len())
                .unwrap_or(u64::MAX)
                .to_le_bytes(),
        );
        h.update(pat.expression.as_bytes());
    }
    hex(&h.finalize())
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn path_for<M: Mode>(dir: &Path, p: &Patterns) -> PathBuf {
    dir.join(format!(
        "tapir-patterns-{}-{}.hsdb",
        M::NAME.to_ascii_lowercase(),
        key::<M>(p)
    ))
}

/// Compiles `p` for mode `M`, or loads it from the cache. Returns the database and whether it
/// came from the cache; the error is Hyperscan's message.
pub(crate) fn compile_cached<M: Mode>(
    p: &Patterns,
    opts: &BuildOptions,
) -> Result<(Database<M>, bool), String> {
    let path = opts.cache_dir.as_deref().map(|d| path_for::<M>(d, p));
    if let Some(db) = path.as_deref().and_then(load::<M>) {
        return Ok((db, true));
    }
    let db: Database<M> = p.build::<M>().map_err(|e| crate::hs_message(&e))?;
    if let Some(path) = path {
        // Best effort: a read-only or full disk only costs the next start a compile.
        let _ = store(&db, &path);
    }
    Ok((db, false))
}

fn load<M: Mode>(path: &Path) -> Option<Database<M>> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(MAX_CACHE_FILE_BYTES).read_to_end(&mut buf).ok()?;
    let (sum, body) = buf.split_at_checked(32)?;
    if Sha256::digest(body).as_slice() != sum {
        return None;
    }
    let db: Database<M> = body.deserialize::<M>().ok()?;
    probe(&db).then_some(db)
}

/// Hyperscan's info string names version, CPU features and mode; a database written on another
/// CPU or for another mode differs from that of a trivial database compiled here and now.
fn probe<M: Mode>(db: &Database<M>) -> bool {
    let Ok(info) = db.info() else { return false };
    let Ok(pat) = hyperscan::Pattern::new("a") else {
        return false;
    };
    let Ok(here) = Patterns(vec![pat]).build::<M>() else {
        return false;
    };
    here.info().is_ok_and(|h| h == info) && db.alloc_scratch().is_ok()
}

fn store<M: Mode>(db: &Database<M>, path: &Path) -> std::io::Result<()> {
    let bytes = db.serialize().map_err(std::io::Error::other)?;
    let body: &[u8] = bytes.as_ref();
    let mut out = Vec::with_capacity(body.len().saturating_add(32));
    out.extend_from_slice(&Sha256::digest(body));
    out.extend_from_slice(body);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &out)?;
    std::fs::rename(&tmp, path)
}
