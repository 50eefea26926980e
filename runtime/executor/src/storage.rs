//! File storage (`ctx.storage`, spec `convex-runtime.md` §3.12, §6.9): the `1.0/storage*`
//! syscalls of queries, mutations and actions, upload tokens, and the `_storage` documents.
//!
//! Each component instance has its own `_storage` table and its own folder of files (the
//! database's `files` module); a storage id is the `_id` of a `_storage` document, whose hidden
//! field [`FILE_KEY_FIELD`] names its file. Upload URLs carry a token signed with HMAC-SHA256
//! by the deployment's secret (kept beside the files): the instance and the time it was issued.
//! As on Convex, a token is valid for one hour and may be used for several uploads.
//!
//! Invariants: a `_storage` document is committed only after its file is complete and in
//! place; a file is removed only after the commit that deleted its document (so a mutation
//! that throws, or a nested mutation rolled back, keeps it); unknown ids read as `null`.

use emvex_database::files::{FILE_KEY_FIELD, STORAGE_BY_FILE_INDEX, STORAGE_TABLE, valid_key};
use emvex_database::{DbError, Document, FileReader, Query, RangeExpr, StagedFile, Transaction};
use emvex_engine::HostError;
use emvex_value::id::DocumentId;
use emvex_value::{Object, Value};
use hmac::{Hmac, Mac};
use serde_json::{Value as Json, json};
use sha2::Sha256;

use crate::host_errors::{db_error, developer};

/// How long an upload URL is valid (Convex: `STORE_FILE_AUTHORIZATION_VALIDITY`, one hour).
pub(crate) const UPLOAD_TOKEN_VALIDITY_MS: f64 = 3600.0 * 1000.0;

/// The private op the main worker answers to record an uploaded or stored file (JS cannot send
/// it: only Rust code puts it on the main worker's syscall channel).
pub(crate) const INSERT_FILE_OP: &str = "emvex/storageInsertFile";

/// The deployment URL functions and upload URLs use, when none is configured.
const DEFAULT_ORIGIN: &str = "http://127.0.0.1:3210";

/// Why an upload token was refused, with Convex's code and words.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenError {
    pub code: &'static str,
    pub message: &'static str,
}

/// The metadata of a stored file, from its `_storage` document.
#[derive(Clone, Debug)]
pub struct StoredFile {
    pub id: String,
    pub key: String,
    pub size: u64,
    pub sha256_base64: String,
    pub content_type: Option<String>,
}

/// The deployment origin (`CONVEX_CLOUD_URL` of the root instance), without a trailing `/`.
pub(crate) fn origin(components: &crate::components::Components) -> String {
    let url = components.instance("").and_then(|i| i.env.get("CONVEX_CLOUD_URL")).map(String::as_str);
    url.unwrap_or(DEFAULT_ORIGIN).trim_end_matches('/').to_string()
}

fn mac(secret: &[u8; 32], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any size");
    mac.update(payload.as_bytes());
    mac
}

/// An upload token for `component`, issued at `now_ms`: `<issued ms>.<hex of the component
/// path>.<hex of the HMAC>`.
pub(crate) fn issue_token(secret: &[u8; 32], component: &str, now_ms: f64) -> String {
    let payload = format!("{}.{}", now_ms.max(0.0) as u64, hex(component.as_bytes()));
    let tag = mac(secret, &payload).finalize().into_bytes();
    format!("{payload}.{}", hex(&tag))
}

/// The instance an upload token was issued for, if it is genuine and not expired.
pub(crate) fn check_token(secret: &[u8; 32], token: &str, now_ms: f64) -> Result<String, TokenError> {
    let invalid =
        TokenError { code: "StorageTokenInvalid", message: "Couldn't decode the StoreFileAuthorization token" };
    let mut parts = token.split('.');
    let (Some(issued), Some(component), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid);
    };
    let tag = unhex(tag).ok_or(invalid.clone())?;
    mac(secret, &format!("{issued}.{component}")).verify_slice(&tag).map_err(|_| invalid.clone())?;
    let issued: f64 = issued.parse::<u64>().map_err(|_| invalid.clone())? as f64;
    if issued + UPLOAD_TOKEN_VALIDITY_MS <= now_ms {
        return Err(TokenError { code: "StorageTokenExpired", message: "Store File Authorization expired" });
    }
    let component = unhex(component).and_then(|b| String::from_utf8(b).ok()).ok_or(invalid)?;
    Ok(component)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Percent-encodes a component path for a query string.
fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The URL that serves file `key` of `component`.
pub(crate) fn file_url(origin: &str, component: &str, key: &str) -> String {
    if component.is_empty() {
        format!("{origin}/api/storage/{key}")
    } else {
        format!("{origin}/api/storage/{key}?component={}", encode_query(component))
    }
}

/// The upload URL for a token.
pub(crate) fn upload_url(origin: &str, token: &str) -> String {
    format!("{origin}/api/storage/upload?token={token}")
}

/// Records `file` (already in `component`'s folder) as a new `_storage` document; returns its id.
pub(crate) fn insert_file(
    tx: &mut Transaction,
    component: &str,
    key: &str,
    size: u64,
    sha256_base64: &str,
    content_type: Option<&str>,
) -> Result<DocumentId, HostError> {
    let mut body = Object::new();
    body.insert("sha256".into(), Value::String(sha256_base64.to_string()));
    body.insert("size".into(), Value::Float64(size as f64));
    // Convex's `_storage` documents hold `null` when the upload had no Content-Type (its
    // virtual table writes one; the convex-js system schema calls the field optional).
    let content_type = content_type.filter(|ct| !ct.is_empty());
    body.insert("contentType".into(), content_type.map_or(Value::Null, |ct| Value::String(ct.to_string())));
    body.insert(FILE_KEY_FIELD.into(), Value::String(key.to_string()));
    let id = tx.insert_system(component, STORAGE_TABLE, body).map_err(db_error)?;
    tx.ensure_system_index(component, STORAGE_TABLE, STORAGE_BY_FILE_INDEX, &[FILE_KEY_FIELD]).map_err(db_error)?;
    Ok(id)
}

/// The main worker's answer to [`INSERT_FILE_OP`]: `{key, size, sha256, contentType}`.
pub(crate) fn insert_file_op(tx: &mut Transaction, component: &str, args_json: &str) -> Result<String, HostError> {
    let args: Json = serde_json::from_str(args_json).map_err(|e| HostError::internal(e.to_string()))?;
    let key = args["key"].as_str().unwrap_or_default();
    let size = args["size"].as_u64().unwrap_or_default();
    let sha = args["sha256"].as_str().unwrap_or_default();
    let id = insert_file(tx, component, key, size, sha, args["contentType"].as_str())?;
    Ok(Json::String(id.encode()).to_string())
}

/// The arguments of [`INSERT_FILE_OP`] for a staged file.
pub(crate) fn insert_file_args(staged: &StagedFile, content_type: Option<&str>) -> String {
    json!({
        "key": staged.key,
        "size": staged.size,
        "sha256": base64_encode(&staged.sha256),
        "contentType": content_type,
    })
    .to_string()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn stored_file(doc: &Document) -> Option<StoredFile> {
    let text = |k: &str| doc.body.get(k).and_then(Value::as_str).map(str::to_string);
    let size = match doc.body.get("size") {
        Some(Value::Float64(f)) => *f as u64,
        Some(Value::Int64(i)) => *i as u64,
        _ => 0,
    };
    Some(StoredFile {
        id: doc.id.encode(),
        key: text(FILE_KEY_FIELD)?,
        size,
        sha256_base64: text("sha256").unwrap_or_default(),
        content_type: text("contentType"),
    })
}

/// The `_storage` document a storage id names in `component`: a `_storage` document id, or a
/// file key (Convex's legacy UUID storage ids). `None` when unknown; an error when `id` is
/// neither form.
pub(crate) fn lookup(tx: &mut Transaction, component: &str, id: &str) -> Result<Option<StoredFile>, HostError> {
    let Ok(doc_id) = DocumentId::decode(id) else {
        // Convex's legacy storage ids are UUIDs: emvex's file keys.
        let key = id.to_ascii_lowercase();
        if valid_key(&key) {
            return lookup_key(tx, component, &key).map_err(db_error);
        }
        return Err(developer(format!(
            "Invalid storage ID: \"{id}\". Storage ID should be an Id of '_storage' table, or a UUID string."
        )));
    };
    let table = tx.table_name(component, doc_id.table_number).map_err(db_error)?;
    match table.as_deref() {
        Some(STORAGE_TABLE) => {}
        // No file was ever stored in this instance: no `_storage` id can be known.
        None => return Ok(None),
        Some(_) => {
            return Err(developer(
                "Invalid storage ID. Storage ID cannot be an ID on any table other than '_storage'.".into(),
            ));
        }
    }
    Ok(tx.get(component, &doc_id).map_err(db_error)?.as_ref().and_then(stored_file))
}

/// The `_storage` document of file `key` in `component`.
pub(crate) fn lookup_key(tx: &mut Transaction, component: &str, key: &str) -> Result<Option<StoredFile>, DbError> {
    if tx.table_number(component, STORAGE_TABLE)?.is_none() {
        return Ok(None);
    }
    let query =
        Query::index_range(STORAGE_TABLE, STORAGE_BY_FILE_INDEX, vec![RangeExpr::eq(FILE_KEY_FIELD, key.to_string())]);
    let stream = tx.query_stream(component, &query)?;
    let doc = tx.query_next(stream)?;
    tx.query_cleanup(stream);
    Ok(doc.as_ref().and_then(stored_file))
}

/// `getMetadata`'s answer: hex SHA-256 here, base64 in the `_storage` document (§3.12).
fn metadata_json(file: &StoredFile) -> Json {
    let sha_hex = base64_decode(&file.sha256_base64).map(|b| hex(&b)).unwrap_or_default();
    json!({
        "storageId": file.id,
        "sha256": sha_hex,
        "size": file.size as f64,
        "contentType": file.content_type,
    })
}

/// Reads a whole stored file (for `storage.get`).
pub(crate) fn read_file(
    db: &emvex_database::Database,
    component: &str,
    file: &StoredFile,
) -> Result<Vec<u8>, HostError> {
    let reader = db.files().open(component, &file.key).map_err(io_error)?;
    let Some(reader) = reader else {
        return Err(HostError::internal(format!("the file of storage ID {} is missing", file.id)));
    };
    reader.read_all().map_err(io_error)
}

/// Opens a stored file for serving.
pub(crate) fn open_file(
    db: &emvex_database::Database,
    component: &str,
    file: &StoredFile,
) -> Result<Option<FileReader>, HostError> {
    db.files().open(component, &file.key).map_err(io_error)
}

pub(crate) fn io_error(e: std::io::Error) -> HostError {
    HostError::internal(format!("file storage I/O error: {e}"))
}

/// What a storage syscall needs of its caller.
pub(crate) struct StorageContext<'a> {
    pub tx: &'a mut Transaction,
    pub db: &'a emvex_database::Database,
    pub component: &'a str,
    pub origin: String,
    pub is_mutation: bool,
}

/// Whether `op` is a storage syscall served here.
pub(crate) fn is_storage_op(op: &str) -> bool {
    matches!(
        op,
        "1.0/storageGetUrl"
            | "1.0/storageGetMetadata"
            | "1.0/storageGenerateUploadUrl"
            | "1.0/storageDelete"
            | "1.0/storageStore"
            | "1.0/storageGet"
    )
}

fn storage_id_arg(args: &Json) -> Result<&str, HostError> {
    match args.get("storageId") {
        Some(Json::String(s)) => Ok(s),
        _ => Err(developer("Invalid argument `storageId`: expected a string".into())),
    }
}

/// Answers a storage syscall of a query or mutation on its transaction.
pub(crate) fn syscall(cx: StorageContext<'_>, op: &str, args: &Json) -> Result<Json, HostError> {
    let StorageContext { tx, db, component, origin, is_mutation } = cx;
    let require_mutation = |what: &str| {
        if is_mutation {
            Ok(())
        } else {
            Err(developer(format!(
                "Can't {what} in a query: storage writes are only allowed in mutations and actions."
            )))
        }
    };
    match op {
        "1.0/storageGetUrl" => {
            let id = storage_id_arg(args)?;
            Ok(match lookup(tx, component, id)? {
                Some(file) => Json::String(file_url(&origin, component, &file.key)),
                None => Json::Null,
            })
        }
        "1.0/storageGetMetadata" => {
            let id = storage_id_arg(args)?;
            Ok(lookup(tx, component, id)?.as_ref().map_or(Json::Null, metadata_json))
        }
        "1.0/storageGenerateUploadUrl" => {
            require_mutation("generate an upload URL")?;
            let secret = db.files().secret().map_err(io_error)?;
            let token = issue_token(&secret, component, tx.clock().now_ms());
            Ok(Json::String(upload_url(&origin, &token)))
        }
        "1.0/storageDelete" => {
            require_mutation("delete a file")?;
            let id = storage_id_arg(args)?;
            let Some(file) = lookup(tx, component, id)? else {
                return Err(developer(format!("storage id {id} not found")));
            };
            let doc_id = DocumentId::decode(&file.id).map_err(|e| HostError::internal(e.message))?;
            tx.delete(component, &doc_id).map_err(db_error)?;
            tx.remove_file_on_commit(component, doc_id, &file.key);
            Ok(Json::Null)
        }
        "1.0/storageStore" => {
            require_mutation("store a file")?;
            let blob = args.get("blob").and_then(Json::as_str).unwrap_or_default();
            let bytes = base64_decode(blob)
                .ok_or_else(|| developer("Invalid argument `blob` for `storage.store`: not base64".into()))?;
            let staged = db.files().stage(&bytes).map_err(io_error)?;
            check_sha256(&staged, args.get("sha256").and_then(Json::as_str))?;
            let content_type = args.get("contentType").and_then(Json::as_str).map(str::to_string);
            let (key, size, sha) = (staged.key.clone(), staged.size, base64_encode(&staged.sha256));
            db.files().promote(component, staged).map_err(io_error)?;
            let id = insert_file(tx, component, &key, size, &sha, content_type.as_deref())?;
            Ok(Json::String(id.encode()))
        }
        "1.0/storageGet" => {
            let id = storage_id_arg(args)?;
            let Some(file) = lookup(tx, component, id)? else { return Ok(Json::Null) };
            let bytes = read_file(db, component, &file)?;
            Ok(json!({ "blob": base64_encode(&bytes), "contentType": file.content_type }))
        }
        _ => Err(crate::unsupported::unsupported(op)),
    }
}

/// `store(blob, { sha256 })`: the given base64 SHA-256 must match the bytes.
pub(crate) fn check_sha256(staged: &StagedFile, expected: Option<&str>) -> Result<(), HostError> {
    let Some(expected) = expected else { return Ok(()) };
    let actual = base64_encode(&staged.sha256);
    if expected != actual {
        return Err(developer(format!(
            "Hash mismatch: the SHA-256 of the stored file is {actual}, but the caller expected {expected}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_signed_and_expire() {
        let secret = [7u8; 32];
        let token = issue_token(&secret, "counter/leaf", 1_000.0);
        assert_eq!(check_token(&secret, &token, 2_000.0).unwrap(), "counter/leaf");
        let expired = check_token(&secret, &token, 1_000.0 + UPLOAD_TOKEN_VALIDITY_MS).unwrap_err();
        assert_eq!(expired.code, "StorageTokenExpired");
        assert_eq!(check_token(&[8u8; 32], &token, 2_000.0).unwrap_err().code, "StorageTokenInvalid");
        let forged = token.replacen("1000.", "9000.", 1);
        assert_eq!(check_token(&secret, &forged, 2_000.0).unwrap_err().code, "StorageTokenInvalid");
        assert_eq!(check_token(&secret, "garbage", 2_000.0).unwrap_err().code, "StorageTokenInvalid");
        assert_eq!(check_token(&secret, "", 2_000.0).unwrap_err().code, "StorageTokenInvalid");
    }

    #[test]
    fn urls() {
        assert_eq!(file_url("http://h", "", "k"), "http://h/api/storage/k");
        assert_eq!(file_url("http://h", "a/b", "k"), "http://h/api/storage/k?component=a%2Fb");
        assert_eq!(upload_url("http://h", "t"), "http://h/api/storage/upload?token=t");
    }
}
