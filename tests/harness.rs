//! Checks of the test harness itself (no server): base64 and Convex JSON helpers
//! against the spec's test vectors, v6 id decoding, URL detection.

mod common;

use common::*;
use serde_json::json;

#[test]
fn base64_vectors() {
    assert_eq!(b64(b""), "");
    assert_eq!(b64(b"f"), "Zg==");
    assert_eq!(b64(b"fo"), "Zm8=");
    assert_eq!(b64(b"foo"), "Zm9v");
    assert_eq!(b64(&[0xfb, 0xff]), "+/8=");
    assert_eq!(unb64("+/8="), vec![0xfb, 0xff]);
    assert_eq!(unb64("-_8="), vec![0xfb, 0xff], "URL-safe characters are accepted");
    for len in 0..20 {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(unb64(&b64(&data)), data);
    }
}

#[test]
fn convex_json_vectors() {
    assert_eq!(int64(1), json!({"$integer": "AQAAAAAAAAA="}));
    assert_eq!(int64(-1), json!({"$integer": "//////////8="}));
    assert_eq!(int64(10), json!({"$integer": "CgAAAAAAAAA="}));
    assert_eq!(special_float(f64::NAN), json!({"$float": "AAAAAAAA+H8="}));
    assert_eq!(special_float(f64::INFINITY), json!({"$float": "AAAAAAAA8H8="}));
    assert_eq!(special_float(f64::NEG_INFINITY), json!({"$float": "AAAAAAAA8P8="}));
    assert_eq!(special_float(-0.0), json!({"$float": "AAAAAAAAAIA="}));
    assert_eq!(as_int64(&int64(i64::MIN)), i64::MIN);
    assert_eq!(normalize_numbers(&json!([5, {"a": 2}])), normalize_numbers(&json!([5.0, {"a": 2.0}])));
    assert_ne!(normalize_numbers(&json!(5)), normalize_numbers(&json!(5.5)));
}

#[test]
fn id_vectors() {
    let internal: [u8; 16] = core::array::from_fn(|i| i as u8);
    assert_eq!(decode_id("j57000820c20a1g7104gm2rc1m70ynr8"), Some((10001, internal)));
    assert_eq!(decode_id("0400000000000000000000000000248"), Some((1, [0; 16])));
    let (table, id) = decode_id("nx70paj9d23tdhf40ch42r3zktyxrddc").expect("valid id");
    assert_eq!(table, 10031);
    assert_eq!(id, [0x0b, 0x2a, 0x49, 0x68, 0x87, 0xa6, 0xc5, 0xe4, 0x03, 0x22, 0x41, 0x60, 0x7f, 0x9e, 0xbd, 0xdc]);
    // Rejections: checksum, alphabet, case, length.
    assert_eq!(decode_id("j57000820c20a1g7104gm2rc1m70ynr9"), None);
    assert_eq!(decode_id("j57000820c20a1g7104gm2rc1m70ynru"), None);
    assert_eq!(decode_id("J57000820C20A1G7104GM2RC1M70YNR8"), None);
    assert_eq!(decode_id("j57000820c20a1g7104gm2rc1m70ynr"), None);
    assert_eq!(decode_id(""), None);
}

#[test]
fn url_detection() {
    assert_eq!(find_url("emvex dev: functions ready at http://127.0.0.1:4321"), Some("http://127.0.0.1:4321".into()));
    assert_eq!(find_url("at http://127.0.0.1:80/ now"), Some("http://127.0.0.1:80".into()));
    assert_eq!(find_url("http://127.0.0.1:"), None);
    assert_eq!(find_url("loading..."), None);
}
