//! Base64 as Convex uses it: encoding is standard alphabet with `=` padding; decoding
//! follows the `convex` client (`src/values/base64.ts`): the length must be a multiple of
//! 4, and the URL-safe characters `-` and `_` are accepted as `+` and `/`. Unlike the
//! client, characters outside both alphabets are rejected instead of decoding to garbage.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::ValueError;

const DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

pub(crate) fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn decode(s: &str) -> Result<Vec<u8>, ValueError> {
    if !s.len().is_multiple_of(4) {
        return Err(ValueError::new("InvalidBase64", "Invalid string. Length must be a multiple of 4"));
    }
    let normalized: String = s
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    DECODER
        .decode(normalized.as_bytes())
        .map_err(|e| ValueError::new("InvalidBase64", format!("Invalid base64 string {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_vectors() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0, 0x10, 0x83]), "ABCD");
        assert_eq!(encode(&[1]), "AQ==");
        assert_eq!(decode("AQ==").unwrap(), vec![1]);
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
        for len in 0..20u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn url_safe_accepted() {
        assert_eq!(decode("-_-_").unwrap(), decode("+/+/").unwrap());
    }

    #[test]
    fn rejects_bad_input() {
        let e = decode("AQ=").unwrap_err();
        assert_eq!(e.message, "Invalid string. Length must be a multiple of 4");
        assert_eq!(decode("A*==").unwrap_err().code, "InvalidBase64");
        assert!(decode("AQ=A").is_err());
        assert!(decode("====").is_err());
    }
}
