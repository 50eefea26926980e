//! Behaviour tests of the table catalog: table numbers per component namespace.

use emvex_value::Object;

use crate::Database;

#[test]
fn table_numbers_are_per_component() {
    let db = Database::open_in_memory().unwrap();
    let mut tx = db.begin_mutation().unwrap();
    let a = tx.insert("", "a", Object::new()).unwrap();
    let b = tx.insert("", "b", Object::new()).unwrap();
    let c = tx.insert("workpool", "x", Object::new()).unwrap();
    let s = tx.insert_system("", "_scheduled_functions", Object::new()).unwrap();
    let s2 = tx.insert_system("", "_storage", Object::new()).unwrap();
    assert_eq!((a.table_number, b.table_number, c.table_number), (10001, 10002, 10001));
    assert_eq!((s.table_number, s2.table_number), (513, 514));
    assert_eq!(tx.table_name("", 10002).unwrap().as_deref(), Some("b"));
    assert_eq!(tx.table_name("workpool", 10001).unwrap().as_deref(), Some("x"));
    assert_eq!(tx.table_name("workpool", 10002).unwrap(), None);
    assert_eq!(tx.table_number("workpool", "a").unwrap(), None);
    // the same id is meaningful only in its component
    assert!(tx.get("", &c).unwrap().is_none());
    assert!(tx.get("workpool", &c).unwrap().is_some());
    assert!(tx.get("", &s).unwrap().is_some());
    assert_eq!(tx.insert_system("", "nope", Object::new()).unwrap_err().code, "InvalidTableName");
    use emvex_value::validator::TableNames;
    assert_eq!(tx.table_names("").table_name(10001).as_deref(), Some("a"));
    tx.commit().unwrap();
}
