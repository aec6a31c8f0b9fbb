//! Opaque `next` tokens: base64url of (cursor, date_added of the last row returned)
//! followed by a truncated HMAC-SHA256, keyed with a per-node secret, over the
//! requesting principal, the resource, the normalized query and that payload.
//! A token presented by another principal, for another query, or altered in any
//! byte fails verification (400 `taxii.bad_next`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::ServerError;

type HmacSha256 = Hmac<Sha256>;

const PAYLOAD_LEN: usize = 16;
const MAC_LEN: usize = 16;

/// Where a page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The store cursor of the last row returned.
    pub cursor: i64,
    /// Its `date_added` (Unix microseconds).
    pub date_added: i64,
}

/// Signs and verifies `next` tokens with one node secret.
#[derive(Clone)]
pub struct NextSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for NextSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NextSigner(..)")
    }
}

impl NextSigner {
    pub fn new(key: [u8; 32]) -> Self {
        NextSigner { key }
    }

    fn mac(&self, binding: &str, payload: &[u8]) -> [u8; MAC_LEN] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut m =
            <HmacSha256 as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        m.update(&(binding.len() as u64).to_be_bytes());
        m.update(binding.as_bytes());
        m.update(payload);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// Issues a token for `pos`, bound to `binding` (principal + resource + query).
    pub fn issue(&self, binding: &str, pos: Position) -> String {
        let mut buf = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
        buf.extend_from_slice(&pos.cursor.to_be_bytes());
        buf.extend_from_slice(&pos.date_added.to_be_bytes());
        let mac = self.mac(binding, &buf);
        buf.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// Verifies a token against `binding` and returns the position it encodes.
    pub fn verify(&self, binding: &str, token: &str) -> Result<Position, ServerError> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| ServerError::BadNext("not a token issued by this server"))?;
        if raw.len() != PAYLOAD_LEN + MAC_LEN {
            return Err(ServerError::BadNext("not a token issued by this server"));
        }
        let (payload, mac) = raw.split_at(PAYLOAD_LEN);
        let mut m =
            <HmacSha256 as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        m.update(&(binding.len() as u64).to_be_bytes());
        m.update(binding.as_bytes());
        m.update(payload);
        m.verify_truncated_left(mac).map_err(|_| {
            ServerError::BadNext("issued for another requester or query, or altered")
        })?;
        let mut c = [0u8; 8];
        c.copy_from_slice(&payload[..8]);
        let mut d = [0u8; 8];
        d.copy_from_slice(&payload[8..16]);
        Ok(Position {
            cursor: i64::from_be_bytes(c),
            date_added: i64::from_be_bytes(d),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let s = NextSigner::new([7; 32]);
        let pos = Position {
            cursor: 12345,
            date_added: 1_700_000_000_000_000,
        };
        let t = s.issue("user:a|objects|q", pos);
        assert_eq!(s.verify("user:a|objects|q", &t).unwrap(), pos);
        // Another principal or query.
        assert_eq!(
            s.verify("user:b|objects|q", &t).unwrap_err().code(),
            "taxii.bad_next"
        );
        assert!(s.verify("user:a|manifest|q", &t).is_err());
        // Another node secret.
        assert!(NextSigner::new([8; 32])
            .verify("user:a|objects|q", &t)
            .is_err());
        // Any altered character.
        let mut bytes = t.clone().into_bytes();
        for i in 0..bytes.len() {
            let orig = bytes[i];
            bytes[i] = if orig == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes.clone()).unwrap();
            assert!(
                s.verify("user:a|objects|q", &tampered).is_err(),
                "position {i}"
            );
            bytes[i] = orig;
        }
        assert!(s.verify("user:a|objects|q", "").is_err());
        assert!(s.verify("user:a|objects|q", "!!!").is_err());
    }
}
