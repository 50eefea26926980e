//! The hashing behind `crypto.subtle`: SHA-256/384/512 digests and HMAC over them.
//!
//! Owns: the algorithm names the prelude may pass (`"SHA-256"`, `"SHA-384"`, `"SHA-512"`)
//! and the byte results. Invariants: HMAC follows RFC 2104 (keys longer than the block are
//! hashed first, then zero-padded to the block size); nothing here keeps state between calls.

use sha2::{Digest, Sha256, Sha384, Sha512};

/// A hash function `crypto.subtle` supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// The Web Crypto name (upper case, as the prelude normalizes it).
    pub fn parse(name: &str) -> Option<Hash> {
        match name {
            "SHA-256" => Some(Hash::Sha256),
            "SHA-384" => Some(Hash::Sha384),
            "SHA-512" => Some(Hash::Sha512),
            _ => None,
        }
    }

    fn block_size(self) -> usize {
        match self {
            Hash::Sha256 => 64,
            Hash::Sha384 | Hash::Sha512 => 128,
        }
    }

    /// The digest of the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha384 => run::<Sha384>(parts),
            Hash::Sha512 => run::<Sha512>(parts),
        }
    }

    /// HMAC of `data` under `key`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        let block = self.block_size();
        let mut k = if key.len() > block { self.digest(&[key]) } else { key.to_vec() };
        k.resize(block, 0);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = self.digest(&[&ipad, data]);
        self.digest(&[&opad, &inner])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn digests_match_known_vectors() {
        assert_eq!(
            hex(&Hash::Sha256.digest(&[b"abc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Hash::Sha384.digest(&[b"a", b"bc"]).len(), 48);
        assert_eq!(Hash::parse("SHA-1"), None);
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2: key "Jefe".
        let data = b"what do ya want for nothing?";
        assert_eq!(
            hex(&Hash::Sha256.hmac(b"Jefe", data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&Hash::Sha512.hmac(b"Jefe", data)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        // Test case 6: a key longer than the block is hashed first.
        let key = [0xaau8; 131];
        assert_eq!(
            hex(&Hash::Sha256.hmac(&key, b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
