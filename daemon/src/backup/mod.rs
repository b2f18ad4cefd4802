//! The store's export format (`st2d store export` and `import`): JSON lines, written and read
//! one record at a time. The first line is a header (format name and version, st2d's version,
//! when, the datastore key's fingerprint, whether trigger instances are in); then one line per
//! record of the store, each naming its tree, its key and its value; the last line is a trailer
//! with the record count, so a cut file is refused rather than half imported. README.md
//! ("Backup and restore") documents the lines.
//!
//! Owns: the format, the export of a store's records into a writer, and the two passes of an
//! import (the whole file checked first, then written). Must not: open a store, choose where
//! an export comes from or goes (`store_command` does), or decrypt a secret (they move as stored).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::datastore::{hex, is_secret_record, unhex};
use crate::store::{DumpKey, DumpRecord, DumpTree, Store, StoreError};
use crate::trigger::{format_id, parse_id};

/// The header's `format`.
pub const FORMAT: &str = "st2d-store-export";
/// The header's `version`: what this st2d writes and the newest it reads.
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{file}: line {line}: {message}")]
    Format { file: String, line: u64, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a line is not a record.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Malformed(String);

impl From<&str> for Malformed {
    fn from(message: &str) -> Self {
        Malformed(message.to_string())
    }
}

impl From<String> for Malformed {
    fn from(message: String) -> Self {
        Malformed(message)
    }
}

/// The first line of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The st2d version that wrote it.
    pub st2d: String,
    /// When (RFC 3339).
    pub created: String,
    /// The fingerprint of the key the secrets are encrypted with (`None`: the home had none).
    pub datastore_key: Option<String>,
    /// Whether the trigger instances are in it.
    pub trigger_instances: bool,
}

/// One line after the header: a record, or the trailer (`end`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tree: Option<String>,
    /// A text key (a pack, a ref, a datastore key...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// An id (16 hex digits): executions, trigger instances, workflow states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    child: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rule: Option<String>,
    /// The value, when it is JSON that reads back to the same bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    json: Option<Value>,
    /// The value, when it is other UTF-8 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// The value's bytes in hex, otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<bool>,
    /// In the trailer: how many records came before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    records: Option<u64>,
}

impl Line {
    fn of(record: &DumpRecord) -> Self {
        let mut line = Line { tree: Some(record.tree.name().to_string()), ..Line::default() };
        match &record.key {
            DumpKey::Name(name) => line.key = Some(name.clone()),
            DumpKey::Id(id) => line.id = Some(format_id(*id)),
            DumpKey::Pair { parent, child } => {
                line.parent = Some(format_id(*parent));
                line.child = Some(format_id(*child));
            }
            DumpKey::Enforcement { instance, rule } => {
                line.instance = Some(format_id(*instance));
                line.rule = Some(rule.clone());
            }
        }
        let json = serde_json::from_slice::<Value>(&record.value)
            .ok()
            .filter(|value| !value.is_null() && serde_json::to_vec(value).is_ok_and(|bytes| bytes == record.value));
        match (json, std::str::from_utf8(&record.value)) {
            (Some(value), _) => line.json = Some(value),
            (None, Ok(text)) => line.text = Some(text.to_string()),
            (None, Err(_)) => line.hex = Some(hex(&record.value)),
        }
        line
    }

    fn record(self) -> Result<DumpRecord, Malformed> {
        let name = self.tree.ok_or("neither a record (no \"tree\") nor the trailer")?;
        let tree = DumpTree::from_name(&name).ok_or_else(|| format!("unknown tree \"{name}\""))?;
        let id = |field: Option<String>, what: &str| -> Result<u64, Malformed> {
            let text = field.ok_or_else(|| format!("a {name} record without \"{what}\""))?;
            parse_id(&text).ok_or_else(|| Malformed(format!("\"{what}\": \"{text}\" is not an id")))
        };
        let key = match (self.key, self.id, self.parent, self.instance) {
            (Some(key), None, None, None) => DumpKey::Name(key),
            (None, Some(given), None, None) => DumpKey::Id(id(Some(given), "id")?),
            (None, None, Some(parent), None) => {
                DumpKey::Pair { parent: id(Some(parent), "parent")?, child: id(self.child, "child")? }
            }
            (None, None, None, Some(instance)) => DumpKey::Enforcement {
                instance: id(Some(instance), "instance")?,
                rule: self.rule.ok_or("an enforcement without \"rule\"")?,
            },
            _ => return Err("a record needs exactly one of \"key\", \"id\", \"parent\", \"instance\"".into()),
        };
        let value = match (self.json, self.text, self.hex) {
            (Some(json), None, None) => serde_json::to_vec(&json).map_err(|e| e.to_string())?,
            (None, Some(text), None) => text.into_bytes(),
            (None, None, Some(text)) => unhex(&text).ok_or("\"hex\" is not hex")?,
            (None, None, None) => Vec::new(),
            _ => return Err("a record needs at most one of \"json\", \"text\", \"hex\"".into()),
        };
        let record = DumpRecord { tree, key, value };
        record.check().map_err(|error| error.to_string())?;
        Ok(record)
    }
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Summary {
    pub records: u64,
    /// Records per tree.
    pub trees: BTreeMap<&'static str, u64>,
}

impl Summary {
    fn count(&mut self, tree: DumpTree) {
        self.records += 1;
        *self.trees.entry(tree.name()).or_default() += 1;
    }

    /// `3 executions, 2 kv, ...` (non-empty trees).
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.trees.iter().map(|(tree, count)| format!("{count} {tree}")).collect();
        if parts.is_empty() { "nothing".to_string() } else { parts.join(", ") }
    }
}

/// The trees an export takes.
pub fn trees(trigger_instances: bool) -> Vec<DumpTree> {
    DumpTree::ALL.into_iter().filter(|tree| trigger_instances || *tree != DumpTree::TriggerInstances).collect()
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { what: what.to_string(), source }
}

/// Writes an export of `store` to `out`: the header, every record of its trees as one
/// consistent view (`Store::dump`), the trailer. `out` should be a local file: writes to the
/// store wait while the records are written.
pub fn export(
    store: &Store,
    datastore_key: Option<&str>,
    trigger_instances: bool,
    out: &mut impl Write,
) -> Result<Summary, BackupError> {
    let header = Header {
        format: FORMAT.to_string(),
        version: VERSION,
        st2d: env!("CARGO_PKG_VERSION").to_string(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        datastore_key: datastore_key.map(str::to_string),
        trigger_instances,
    };
    write_line(out, &header)?;
    let mut summary = Summary::default();
    store.dump::<BackupError>(&trees(trigger_instances), |record| {
        summary.count(record.tree);
        write_line(out, &Line::of(&record))
    })?;
    write_line(out, &Line { end: Some(true), records: Some(summary.records), ..Line::default() })?;
    out.flush().map_err(io("cannot write the export"))?;
    Ok(summary)
}

/// One line of JSON.
fn write_line(out: &mut impl Write, line: &impl Serialize) -> Result<(), BackupError> {
    serde_json::to_writer(&mut *out, line)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(io("cannot write the export"))
}

/// What the first pass of an import found in a file.
#[derive(Debug)]
pub struct Plan {
    pub header: Header,
    pub summary: Summary,
    /// Datastore records holding a secret.
    pub secrets: u64,
    /// The largest id any record names.
    pub largest_id: u64,
}

/// Reads the export in `file` through, one line at a time, handing each record to `each`;
/// refuses a file that is not an export of a version this st2d reads, a line that is not a
/// record, and a file without its trailer or whose trailer counts other records.
fn read(file: &Path, mut each: impl FnMut(DumpRecord) -> Result<(), BackupError>) -> Result<Header, BackupError> {
    let shown = file.display().to_string();
    let reader = std::fs::File::open(file).map_err(io(&shown))?;
    let mut lines = std::io::BufReader::new(reader).lines();
    let refuse = |line: u64, message: String| BackupError::Format { file: shown.clone(), line, message };
    let first = lines.next().transpose().map_err(io(&shown))?.ok_or_else(|| refuse(1, "the file is empty".into()))?;
    let header: Header =
        serde_json::from_str(&first).map_err(|e| refuse(1, format!("not the header of an st2d store export: {e}")))?;
    if header.format != FORMAT {
        return Err(refuse(1, format!("format \"{}\" is not \"{FORMAT}\"", header.format)));
    }
    if header.version == 0 || header.version > VERSION {
        return Err(refuse(
            1,
            format!(
                "format version {} (written by st2d {}); this st2d {} reads versions up to {VERSION}",
                header.version,
                header.st2d,
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    let mut number = 1u64;
    // Line 1 is the header: the records are lines 2 to the trailer's.
    for (index, text) in (2u64..).zip(lines) {
        number = index;
        let count = index - 2;
        let text = text.map_err(io(&shown))?;
        let line: Line = serde_json::from_str(&text).map_err(|e| refuse(number, e.to_string()))?;
        if line.end == Some(true) {
            if line.records != Some(count) {
                return Err(refuse(
                    number,
                    format!("the trailer counts {:?} records, the file has {count}", line.records),
                ));
            }
            return Ok(header);
        }
        each(line.record().map_err(|malformed| refuse(number, malformed.0))?)?;
    }
    Err(refuse(number, "the file ends without its trailer (a cut or unfinished export)".into()))
}

/// The first pass of an import: the whole file is read and checked, nothing written.
pub fn plan(file: &Path) -> Result<Plan, BackupError> {
    let mut summary = Summary::default();
    let mut secrets = 0;
    let mut largest_id = 0;
    let header = read(file, |record| {
        summary.count(record.tree);
        largest_id = largest_id.max(record.largest_id());
        if record.tree == DumpTree::Kv && is_secret_record(&record.value) {
            secrets += 1;
        }
        Ok(())
    })?;
    Ok(Plan { header, summary, secrets, largest_id })
}

/// The second pass: writes every record of `file` into `store` (secrets left out with
/// `skip_secrets`), then makes the store's ids continue above the imported ones and flushes.
pub fn import(store: &Store, file: &Path, plan: &Plan, skip_secrets: bool) -> Result<Summary, BackupError> {
    let mut summary = Summary::default();
    read(file, |record| {
        if skip_secrets && record.tree == DumpTree::Kv && is_secret_record(&record.value) {
            return Ok(());
        }
        store.restore(&record)?;
        summary.count(record.tree);
        Ok(())
    })?;
    store.finish_restore(plan.largest_id)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_exact_bytes() {
        for value in [&b"{\"a\":1}"[..], b"1", b"0", b"actions,rules", b"", b"null", b" 1", b"\xff\x00"] {
            let record = DumpRecord { tree: DumpTree::Meta, key: DumpKey::Name("k".into()), value: value.to_vec() };
            let text = serde_json::to_string(&Line::of(&record)).expect("serializes");
            let back: Line = serde_json::from_str(&text).expect("parses");
            assert_eq!(back.record().expect("a record"), record, "{text}");
        }
    }

    #[test]
    fn an_export_reads_back_and_a_cut_one_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("store")).expect("open");
        store.put_execution(7, b"{\"status\":\"succeeded\"}", false).expect("write");
        store.put_kv_record("system:k", b"{\"value\":\"00ff\",\"secret\":true}").expect("kv");
        let file = dir.path().join("export.jsonl");
        let mut out = std::fs::File::create(&file).expect("create");
        let written = export(&store, Some("abc"), false, &mut out).expect("export");
        assert_eq!(written.trees.get("executions"), Some(&1));
        let plan = plan(&file).expect("plan");
        assert_eq!((plan.secrets, plan.largest_id, plan.summary.records), (1, 7, written.records));
        assert_eq!(plan.header.datastore_key.as_deref(), Some("abc"));

        let text = std::fs::read_to_string(&file).expect("read");
        let cut: Vec<&str> = text.lines().collect();
        std::fs::write(&file, cut[..cut.len() - 1].join("\n")).expect("write");
        let error = super::plan(&file).expect_err("a cut file");
        assert!(error.to_string().contains("without its trailer"), "{error}");
        std::fs::write(&file, "{\"format\":\"st2d-store-export\",\"version\":9,\"st2d\":\"9.0\",\"created\":\"\",\"datastore_key\":null,\"trigger_instances\":false}\n").expect("write");
        let error = super::plan(&file).expect_err("a newer version");
        assert!(error.to_string().contains("format version 9"), "{error}");
    }
}
