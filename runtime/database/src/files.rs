//! File storage (spec `convex-runtime.md` §3.12, §6.9): the bytes of stored files, outside
//! SQLite, under `<data dir>/files/` (or in memory for in-memory databases).
//!
//! A file is named by a random UUID (its *key*) inside its component's own folder
//! (`files/<hex of the component path>/<key>`; `files/app/` for the root app), so each
//! component instance has its own namespace. The `_storage` document that names a file holds
//! its key in a field JS never sees ([`FILE_KEY_FIELD`]); the document is the truth, the file
//! only its payload.
//!
//! Invariants:
//! - a file is written to `files/tmp/` while it streams in (hashed with SHA-256 as it goes,
//!   never held whole in memory), fsynced, and only then renamed into its component folder
//!   ([`FileStore::promote`]); its `_storage` document is committed after that, so a committed
//!   document always names a complete file;
//! - a file is removed only after the commit that deleted its document
//!   (`Transaction::remove_file_on_commit`), so no committed document loses its file;
//! - a crash between those steps leaves a file no document names: [`Database::sweep_files`]
//!   removes such files (and leftover temporary ones) at start, before any call is served.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::DbError;

/// The hidden field of a `_storage` document that holds its file's key.
pub const FILE_KEY_FIELD: &str = "emvexFile";
/// The system table of stored files, one per component instance.
pub const STORAGE_TABLE: &str = "_storage";
/// The system index of `_storage` by file key (for serving `GET /api/storage/<key>`).
pub const STORAGE_BY_FILE_INDEX: &str = "by_emvex_file";

/// Where the bytes of stored files live.
#[derive(Clone)]
pub struct FileStore {
    kind: Arc<Kind>,
    /// The deployment's secret that signs upload tokens, read or made on first use.
    secret: Arc<std::sync::OnceLock<[u8; 32]>>,
}

enum Kind {
    /// `root` is `<data dir>/files`, created on first use.
    Dir { root: PathBuf },
    /// `--in-memory`: files by (component, key).
    Memory { files: Mutex<MemoryFiles> },
}

/// In-memory files by (component, key).
type MemoryFiles = HashMap<(String, String), Arc<[u8]>>;

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.kind {
            Kind::Dir { root } => write!(f, "FileStore({})", root.display()),
            Kind::Memory { .. } => f.write_str("FileStore(memory)"),
        }
    }
}

/// A file being written: bytes go to a temporary file (or a buffer in memory) and into the
/// SHA-256 as they arrive.
pub struct FileWriter {
    key: String,
    /// `None` once finished; a writer dropped before that removes its temporary file.
    sink: Option<Sink>,
    hasher: Sha256,
    size: u64,
}

enum Sink {
    Dir(DiskSink),
    Memory(Vec<u8>),
}

/// Bytes of a temporary file, written by one thread and hashed by another, so that writing,
/// hashing and receiving the next bytes overlap on different cores. Chunks are shared
/// ([`Bytes`]), never copied, except that chunks under [`COALESCE_BELOW`] are gathered into one
/// buffer first; at most [`WRITE_QUEUE`] chunks wait for each thread.
struct DiskSink {
    path: PathBuf,
    pending: Vec<u8>,
    writes: Option<SyncSender<Bytes>>,
    hashes: Option<SyncSender<Bytes>>,
    /// Writes the chunks and fsyncs the file.
    writer: Option<JoinHandle<io::Result<()>>>,
    /// Answers the SHA-256 of the whole file.
    hasher: Option<JoinHandle<[u8; 32]>>,
}

/// Chunks smaller than this are gathered before they are handed to the threads.
const COALESCE_BELOW: usize = 64 << 10;
/// The size of a buffer of gathered small chunks.
const PENDING_CAPACITY: usize = 256 << 10;
const WRITE_QUEUE: usize = 32;
/// How many bytes the writer writes between two requests to the flusher.
const FLUSH_EVERY: usize = 16 << 20;

/// A thread that syncs a file's data while it is still being written, so that its pages go
/// to the disk as they come and the final fsync (the one that makes the file durable) has
/// little left to wait for.
struct Flusher;

impl Flusher {
    /// Starts the thread over a second handle of `file`; each `()` sent asks for one sync.
    fn start(file: &File) -> io::Result<(SyncSender<()>, JoinHandle<io::Result<()>>)> {
        let file = file.try_clone()?;
        let (requests, to_flush) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new().name("emvex-file-flush".into()).spawn(move || {
            for () in to_flush {
                file.sync_data()?;
            }
            Ok(())
        })?;
        Ok((requests, thread))
    }
}

impl DiskSink {
    fn create(path: PathBuf) -> io::Result<DiskSink> {
        let mut file = File::create(&path)?;
        let (writes, to_write) = sync_channel::<Bytes>(WRITE_QUEUE);
        let (hashes, to_hash) = sync_channel::<Bytes>(WRITE_QUEUE);
        let writer = std::thread::Builder::new().name("emvex-file-write".into()).spawn(move || {
            let (flush, flusher) = Flusher::start(&file)?;
            let mut unflushed = 0;
            for chunk in to_write {
                file.write_all(&chunk)?;
                unflushed += chunk.len();
                if unflushed >= FLUSH_EVERY {
                    // Asks for the disk writes to start now; one request waits at most.
                    let _ = flush.try_send(());
                    unflushed = 0;
                }
            }
            drop(flush);
            let synced = file.sync_all();
            let flushed = flusher.join().unwrap_or_else(|_| Err(io::Error::other("the file flusher panicked")));
            synced.and(flushed)
        })?;
        let hasher = std::thread::Builder::new().name("emvex-file-hash".into()).spawn(move || {
            let mut hasher = Sha256::new();
            for chunk in to_hash {
                hasher.update(&chunk);
            }
            hasher.finalize().into()
        })?;
        Ok(DiskSink {
            path,
            pending: Vec::new(),
            writes: Some(writes),
            hashes: Some(hashes),
            writer: Some(writer),
            hasher: Some(hasher),
        })
    }

    fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.len() >= COALESCE_BELOW {
            self.send_pending()?;
            return self.send(chunk);
        }
        if self.pending.len() + chunk.len() > PENDING_CAPACITY {
            self.send_pending()?;
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(PENDING_CAPACITY);
        }
        self.pending.extend_from_slice(&chunk);
        Ok(())
    }

    fn send_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let gathered = std::mem::take(&mut self.pending);
        self.send(Bytes::from(gathered))
    }

    fn send(&mut self, chunk: Bytes) -> io::Result<()> {
        let hashed = self.hashes.as_ref().is_some_and(|q| q.send(chunk.clone()).is_ok());
        let written = self.writes.as_ref().is_some_and(|q| q.send(chunk).is_ok());
        if hashed && written {
            return Ok(());
        }
        // A thread stopped: the writer's error says why.
        Err(self.join().err().unwrap_or_else(|| io::Error::other("the file writer stopped")))
    }

    /// Writes what is pending, waits for both threads (the writer fsyncs), and answers the SHA-256.
    fn finish(&mut self) -> io::Result<[u8; 32]> {
        self.send_pending()?;
        self.join()
    }

    fn join(&mut self) -> io::Result<[u8; 32]> {
        self.writes = None;
        self.hashes = None;
        let written = match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the file writer panicked")),
            None => Err(io::Error::other("the file writer already stopped")),
        };
        let hashed = match self.hasher.take().map(JoinHandle::join) {
            Some(Ok(sha256)) => Ok(sha256),
            _ => Err(io::Error::other("the file hasher stopped")),
        };
        written.and(hashed)
    }
}

/// A complete file, not yet in its component's folder. Dropped without
/// [`FileStore::promote`], it is removed.
pub struct StagedFile {
    pub key: String,
    pub size: u64,
    pub sha256: [u8; 32],
    payload: Option<Payload>,
}

enum Payload {
    Temp(PathBuf),
    Memory(Vec<u8>),
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(Payload::Temp(path)) = self.payload.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// An open stored file: its length, and reads from any offset.
pub enum FileReader {
    Dir(File, u64),
    Memory(io::Cursor<Arc<[u8]>>),
}

impl FileReader {
    pub fn len(&self) -> u64 {
        match self {
            FileReader::Dir(_, len) => *len,
            FileReader::Memory(c) => c.get_ref().len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the whole file.
    pub fn read_all(mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len() as usize);
        self.read_to_end(&mut out)?;
        Ok(out)
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            FileReader::Dir(f, _) => f.read(buf),
            FileReader::Memory(c) => c.read(buf),
        }
    }
}

impl Seek for FileReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            FileReader::Dir(f, _) => f.seek(pos),
            FileReader::Memory(c) => c.seek(pos),
        }
    }
}

impl FileWriter {
    /// The key the file will have.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `bytes` (copied; [`FileWriter::write_bytes`] takes shared chunks without a copy).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_bytes(Bytes::copy_from_slice(bytes))
    }

    /// Appends a chunk of the file.
    pub fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        self.size += bytes.len() as u64;
        match self.sink.as_mut() {
            Some(Sink::Dir(disk)) => disk.write(bytes),
            Some(Sink::Memory(buf)) => {
                self.hasher.update(&bytes);
                buf.extend_from_slice(&bytes);
                Ok(())
            }
            None => Err(io::Error::other("the file was already finished")),
        }
    }

    /// Flushes and fsyncs the file: it is complete and durable, not yet named by anything.
    pub fn finish(mut self) -> io::Result<StagedFile> {
        let sink = self.sink.take().ok_or_else(|| io::Error::other("the file was already finished"))?;
        let payload = match sink {
            Sink::Dir(mut disk) => {
                let path = std::mem::take(&mut disk.path);
                let mut staged = StagedFile {
                    key: self.key.clone(),
                    size: self.size,
                    sha256: [0; 32],
                    payload: Some(Payload::Temp(path)),
                };
                staged.sha256 = disk.finish()?;
                return Ok(staged);
            }
            Sink::Memory(buf) => Payload::Memory(buf),
        };
        let sha256 = std::mem::take(&mut self.hasher).finalize().into();
        Ok(StagedFile { key: self.key.clone(), size: self.size, sha256, payload: Some(payload) })
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if let Some(Sink::Dir(mut disk)) = self.sink.take() {
            let _ = disk.join();
            let _ = std::fs::remove_file(&disk.path);
        }
    }
}

impl FileStore {
    /// Files under `root` (created when the first file is written).
    pub fn dir(root: PathBuf) -> FileStore {
        FileStore { kind: Arc::new(Kind::Dir { root }), secret: Arc::default() }
    }

    /// Files kept in memory, gone with the process.
    pub fn memory() -> FileStore {
        FileStore { kind: Arc::new(Kind::Memory { files: Mutex::default() }), secret: Arc::default() }
    }

    /// The deployment's secret for signing upload URLs: `files/upload-secret` (made once, so
    /// URLs stay valid across restarts), or a random one in memory.
    pub fn secret(&self) -> io::Result<[u8; 32]> {
        if let Some(s) = self.secret.get() {
            return Ok(*s);
        }
        let secret = match &*self.kind {
            Kind::Memory { .. } => rand::random(),
            Kind::Dir { root } => {
                let path = root.join("upload-secret");
                match std::fs::read(&path) {
                    Ok(bytes) if bytes.len() == 32 => bytes.try_into().expect("32 bytes"),
                    _ => {
                        std::fs::create_dir_all(root)?;
                        let secret: [u8; 32] = rand::random();
                        let tmp = root.join("upload-secret.tmp");
                        let mut f = File::create(&tmp)?;
                        f.write_all(&secret)?;
                        f.sync_all()?;
                        std::fs::rename(&tmp, &path)?;
                        secret
                    }
                }
            }
        };
        Ok(*self.secret.get_or_init(|| secret))
    }

    /// Starts writing a new file with a fresh key.
    pub fn writer(&self) -> io::Result<FileWriter> {
        let key = new_key();
        let sink = match &*self.kind {
            Kind::Dir { root } => {
                let tmp = root.join("tmp");
                std::fs::create_dir_all(&tmp)?;
                let path = tmp.join(&key);
                Sink::Dir(DiskSink::create(path)?)
            }
            Kind::Memory { .. } => Sink::Memory(Vec::new()),
        };
        Ok(FileWriter { key, sink: Some(sink), hasher: Sha256::new(), size: 0 })
    }

    /// Writes `bytes` as a new staged file.
    pub fn stage(&self, bytes: &[u8]) -> io::Result<StagedFile> {
        let mut writer = self.writer()?;
        writer.write(bytes)?;
        writer.finish()
    }

    /// Moves a staged file into `component`'s folder under its key.
    pub fn promote(&self, component: &str, mut staged: StagedFile) -> io::Result<()> {
        match (&*self.kind, staged.payload.take()) {
            (Kind::Dir { root }, Some(Payload::Temp(path))) => {
                let dir = root.join(component_dir(component));
                std::fs::create_dir_all(&dir)?;
                let result = std::fs::rename(&path, dir.join(&staged.key));
                if result.is_err() {
                    let _ = std::fs::remove_file(&path);
                }
                result?;
                // The rename itself is durable once the folder is synced.
                File::open(&dir).and_then(|d| d.sync_all())
            }
            (Kind::Memory { files }, Some(Payload::Memory(bytes))) => {
                lock(files).insert((component.to_string(), staged.key.clone()), bytes.into());
                Ok(())
            }
            _ => Err(io::Error::other("a staged file was promoted into another kind of file store")),
        }
    }

    /// Opens `component`'s file `key`, if it exists.
    pub fn open(&self, component: &str, key: &str) -> io::Result<Option<FileReader>> {
        if !valid_key(key) {
            return Ok(None);
        }
        match &*self.kind {
            Kind::Dir { root } => match File::open(root.join(component_dir(component)).join(key)) {
                Ok(file) => {
                    let len = file.metadata()?.len();
                    Ok(Some(FileReader::Dir(file, len)))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            Kind::Memory { files } => Ok(lock(files)
                .get(&(component.to_string(), key.to_string()))
                .map(|bytes| FileReader::Memory(io::Cursor::new(bytes.clone())))),
        }
    }

    /// Removes `component`'s file `key` (nothing if it is not there).
    pub fn remove(&self, component: &str, key: &str) -> io::Result<()> {
        if !valid_key(key) {
            return Ok(());
        }
        match &*self.kind {
            Kind::Dir { root } => match std::fs::remove_file(root.join(component_dir(component)).join(key)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            Kind::Memory { files } => {
                lock(files).remove(&(component.to_string(), key.to_string()));
                Ok(())
            }
        }
    }

    /// Removes temporary files and every file not in `named` ((component folder, key) pairs).
    /// Returns how many files it removed.
    fn sweep(&self, named: &HashSet<(String, String)>) -> io::Result<usize> {
        let Kind::Dir { root } = &*self.kind else { return Ok(0) };
        let mut removed = 0;
        let Ok(dirs) = std::fs::read_dir(root) else { return Ok(0) };
        for dir in dirs {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            let folder = dir.file_name().to_string_lossy().into_owned();
            for file in std::fs::read_dir(dir.path())? {
                let file = file?;
                let key = file.file_name().to_string_lossy().into_owned();
                if folder == "tmp" || !named.contains(&(folder.clone(), key)) {
                    std::fs::remove_file(file.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The folder of a component's files: `app` for the root, else `c-` and the hex of its path
/// (component paths may contain `/`).
fn component_dir(component: &str) -> String {
    if component.is_empty() {
        return "app".into();
    }
    let mut out = String::from("c-");
    for b in component.bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A fresh random key in the UUID v4 format.
fn new_key() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Whether `key` has the shape of a key (so a request path can never leave the folder).
pub fn valid_key(key: &str) -> bool {
    key.len() == 36
        && key.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit() && !b.is_ascii_uppercase(),
        })
}

/// The keys every `_storage` document names, as (component folder, key) pairs.
pub(crate) fn named_files(conn: &Connection) -> Result<HashSet<(String, String)>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT t.component, d.body FROM emvex_documents d JOIN emvex_tables t ON d.tid = t.tid WHERE t.name = ?1",
    )?;
    let rows = stmt.query_map([STORAGE_TABLE], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut named = HashSet::new();
    for row in rows {
        let (component, body) = row?;
        let body: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| DbError::storage(format!("a stored `_storage` document is not JSON: {e}")))?;
        if let Some(key) = body.get(FILE_KEY_FIELD).and_then(|k| k.as_str()) {
            named.insert((component_dir(&component), key.to_string()));
        }
    }
    Ok(named)
}

/// Removes unnamed files (see the module invariants).
pub(crate) fn sweep(store: &FileStore, conn: &Connection) -> Result<usize, DbError> {
    let named = named_files(conn)?;
    store.sweep(&named).map_err(|e| DbError::storage(format!("cannot clean the file storage folder: {e}")))
}

/// The folder of stored files beside a database file.
pub(crate) fn files_root(db_file: &Path) -> PathBuf {
    db_file.parent().map(|p| p.join("files")).unwrap_or_else(|| PathBuf::from("files"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_uuid_shape() {
        let k = new_key();
        assert!(valid_key(&k), "{k}");
        assert!(!valid_key("../../etc/passwd"));
        assert!(!valid_key(&k.to_uppercase()));
        assert_eq!(component_dir(""), "app");
        assert_eq!(component_dir("a/b"), "c-612f62");
    }

    #[test]
    fn stage_promote_open_remove_in_a_folder() {
        let root = std::env::temp_dir().join(format!("emvex-files-test-{}", new_key()));
        let store = FileStore::dir(root.clone());
        let mut w = store.writer().unwrap();
        w.write(b"hello ").unwrap();
        w.write(b"world").unwrap();
        let staged = w.finish().unwrap();
        let key = staged.key.clone();
        assert_eq!(staged.size, 11);
        assert_eq!(staged.sha256, <[u8; 32]>::from(Sha256::digest(b"hello world")));
        assert!(store.open("", &key).unwrap().is_none(), "not visible before promote");
        store.promote("", staged).unwrap();
        let mut r = store.open("", &key).unwrap().unwrap();
        assert_eq!(r.len(), 11);
        r.seek(SeekFrom::Start(6)).unwrap();
        assert_eq!(r.read_all().unwrap(), b"world");
        assert!(store.open("other", &key).unwrap().is_none(), "components have their own files");
        // a staged file dropped without promote leaves nothing behind; sweep removes unnamed files
        drop(store.stage(b"x").unwrap());
        let mut unfinished = store.writer().unwrap();
        unfinished.write(b"half").unwrap();
        drop(unfinished);
        assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
        let orphan = store.stage(b"orphan").unwrap();
        let orphan_key = orphan.key.clone();
        store.promote("", orphan).unwrap();
        let named = HashSet::from([("app".to_string(), key.clone())]);
        assert_eq!(store.sweep(&named).unwrap(), 1);
        assert!(store.open("", &orphan_key).unwrap().is_none());
        assert!(store.open("", &key).unwrap().is_some());
        store.remove("", &key).unwrap();
        assert!(store.open("", &key).unwrap().is_none());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn mixed_chunks_keep_their_order_and_hash() {
        // Small chunks are gathered, large ones handed over as they are, and past
        // FLUSH_EVERY the flusher syncs while the writer goes on: the file is the bytes in order.
        let root = std::env::temp_dir().join(format!("emvex-files-test-{}", new_key()));
        let store = FileStore::dir(root.clone());
        let mut w = store.writer().unwrap();
        let mut expected = Vec::new();
        let mut n = 0u32;
        while expected.len() < FLUSH_EVERY + (3 << 20) {
            let len = if n.is_multiple_of(3) { COALESCE_BELOW * 2 + n as usize } else { 1000 + n as usize };
            let chunk: Vec<u8> = (0..len).map(|i| (i as u32 ^ n) as u8).collect();
            expected.extend_from_slice(&chunk);
            w.write_bytes(Bytes::from(chunk)).unwrap();
            n += 1;
        }
        let staged = w.finish().unwrap();
        assert_eq!(staged.size, expected.len() as u64);
        assert_eq!(staged.sha256, <[u8; 32]>::from(Sha256::digest(&expected)));
        let key = staged.key.clone();
        store.promote("", staged).unwrap();
        assert!(store.open("", &key).unwrap().unwrap().read_all().unwrap() == expected);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn memory_store() {
        let store = FileStore::memory();
        let staged = store.stage(b"abc").unwrap();
        let key = staged.key.clone();
        store.promote("c", staged).unwrap();
        assert_eq!(store.open("c", &key).unwrap().unwrap().read_all().unwrap(), b"abc");
        assert!(store.open("", &key).unwrap().is_none());
        store.remove("c", &key).unwrap();
        assert!(store.open("c", &key).unwrap().is_none());
    }
}
