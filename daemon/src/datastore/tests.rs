//! The datastore: scopes, TTL, secrets and their key file, change announcements, old records.

use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;

use super::*;

/// The trigger and payload of every change announced.
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

fn open(dir: &Path) -> (Datastore, Seen) {
    // sled lets go of its lock file from a background thread after the last handle is dropped:
    // a reopen right after a drop may find it still held for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let store = loop {
        match Store::open(&dir.join("store")) {
            Ok(store) => break store,
            Err(error) if std::time::Instant::now() < deadline && error.to_string().contains("lock") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(error) => panic!("store: {error}"),
        }
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let datastore = Datastore::open(store, &dir.join("keys/datastore.key"))
        .expect("datastore")
        .with_changes(Arc::new(move |trigger, payload| log.lock().expect("lock").push((trigger.to_string(), payload))));
    (datastore, seen)
}

#[test]
fn scopes_keep_their_keys_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ds, _) = open(dir.path());
    let alice = Scope::User("alice".into());
    ds.set(&Scope::System, "k", "system value", false, None).expect("set");
    ds.set(&alice, "k", "alice value", false, None).expect("set");
    ds.set(&Scope::User("bob".into()), "k", "bob value", false, None).expect("set");
    assert_eq!(ds.get(&Scope::System, "k", false).expect("get").map(|i| i.value).as_deref(), Some("system value"));
    assert_eq!(ds.get(&alice, "k", false).expect("get").map(|i| i.value).as_deref(), Some("alice value"));
    let system: Vec<String> = ds.list(&Scope::System, "", false).expect("list").into_iter().map(|i| i.name).collect();
    assert_eq!(system, ["k"], "user keys are not system keys");
    let mine = ds.list(&alice, "", false).expect("list");
    assert_eq!((mine.len(), mine[0].to_json()["user"].as_str()), (1, Some("alice")));
    assert!(ds.delete(&alice, "k").expect("delete"));
    assert!(!ds.delete(&alice, "k").expect("delete"), "deleting twice finds nothing");
    assert!(matches!(Scope::parse("user", ""), Err(DatastoreError::Invalid(_))));
    assert!(matches!(Scope::parse("galaxy", "x"), Err(DatastoreError::Invalid(m)) if m.contains("galaxy")));
    assert!(matches!(ds.set(&Scope::System, "", "v", false, None), Err(DatastoreError::Invalid(_))));
}

#[test]
fn secrets_are_encrypted_at_rest_with_a_private_key_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ds, _) = open(dir.path());
    let item = ds.set(&Scope::System, "password", "hunter2", true, None).expect("set");
    assert!(item.encrypted && item.value != "hunter2");
    let shown = ds.get(&Scope::System, "password", false).expect("get").expect("found");
    assert_eq!((shown.value.as_str(), shown.encrypted), (item.value.as_str(), true), "no decrypt: ciphertext");
    let clear = ds.get(&Scope::System, "password", true).expect("get").expect("found");
    assert_eq!((clear.value.as_str(), clear.encrypted), ("hunter2", false));
    let key_file = dir.path().join("keys/datastore.key");
    let mode = std::fs::metadata(&key_file).expect("key file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    drop(ds);
    let (again, _) = open(dir.path());
    let clear = again.get(&Scope::System, "password", true).expect("get").expect("found");
    assert_eq!(clear.value, "hunter2", "the key file is reused across opens");
    drop(again);
    std::fs::write(&key_file, "00".repeat(32)).expect("replace the key");
    let (wrong, _) = open(dir.path());
    let error = wrong.get(&Scope::System, "password", true).expect_err("another key");
    assert!(matches!(error, DatastoreError::Decrypt(ref name) if name == "password"), "{error}");
    std::fs::write(&key_file, "not a key").expect("corrupt the key");
    let store = Store::open(&dir.path().join("store2")).expect("store");
    let error = Datastore::open(store, &key_file).err().expect("corrupt key");
    assert!(error.to_string().contains("datastore.key"), "{error}");
}

#[test]
fn expired_keys_vanish_and_are_swept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ds, _) = open(dir.path());
    ds.set(&Scope::System, "short", "v", false, Some(1)).expect("set");
    ds.set(&Scope::System, "long", "v", false, Some(3600)).expect("set");
    let long = ds.get(&Scope::System, "long", false).expect("get").expect("found");
    assert!(long.expire_timestamp.is_some_and(|t| t > Utc::now()));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(ds.get(&Scope::System, "short", false).expect("get"), None);
    assert_eq!(ds.list(&Scope::System, "", false).expect("list").len(), 1);
    assert_eq!(ds.sweep().expect("sweep"), 1);
    let error = ds.set(&Scope::System, "forever", "v", false, Some(u64::MAX)).expect_err("too long");
    assert!(matches!(error, DatastoreError::Invalid(ref m) if m.contains("ttl")), "{error}");
}

#[test]
fn changes_are_announced_as_stackstorm_triggers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ds, seen) = open(dir.path());
    ds.set(&Scope::System, "k", "one", false, None).expect("set");
    ds.set(&Scope::System, "k", "one", false, None).expect("set");
    ds.set(&Scope::System, "k", "two", false, None).expect("set");
    ds.delete(&Scope::System, "k").expect("delete");
    let seen = seen.lock().expect("lock");
    let triggers: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        triggers,
        [
            "core.st2.key_value_pair.create",
            "core.st2.key_value_pair.update",
            "core.st2.key_value_pair.update",
            "core.st2.key_value_pair.value_change",
            "core.st2.key_value_pair.delete"
        ]
    );
    assert_eq!(seen[3].1["old_object"]["value"], "one");
    assert_eq!(seen[3].1["new_object"]["value"], "two");
    assert_eq!(seen[4].1["object"]["name"], "k");
}

#[test]
fn plain_values_from_older_stores_read_as_system_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("store")).expect("store");
    store.put_kv_record("legacy", b"plain text").expect("write");
    let ds = Datastore::open(store, &dir.path().join("keys/datastore.key")).expect("datastore");
    let item = ds.get(&Scope::System, "legacy", false).expect("get").expect("found");
    assert_eq!((item.value.as_str(), item.secret), ("plain text", false));
}
