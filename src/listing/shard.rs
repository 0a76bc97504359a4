//! Splitting a listing among machines: shard K of N holds the keys whose stable hash falls in it.
//!
//! The hash is the MD5 of the key's bytes (the decoded key, whatever the listing's encoding), read
//! as a big-endian number from its first 8 bytes, modulo N. It depends on nothing but the key and N:
//! the same key lands in the same shard on every machine, in every listing format, whatever the
//! listing's order or split, so N processes given `1/N` … `N/N` check every key exactly once with no
//! coordination. The rule is part of the command-line contract and will not change.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::etag::Md5Digest;

/// Shard K of N (1 ≤ K ≤ N).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u64,
    count: u64,
}

/// A shard that is not `K/N` with 1 ≤ K ≤ N.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid shard '{0}': expected K/N with whole numbers 1 ≤ K ≤ N, e.g. 3/8")]
pub struct ShardError(String);

impl Shard {
    /// Shard `index` (1-based) of `count`.
    pub fn new(index: u64, count: u64) -> Result<Shard, ShardError> {
        if count == 0 || index == 0 || index > count {
            return Err(ShardError(format!("{index}/{count}")));
        }
        Ok(Shard { index, count })
    }

    /// Shard `index0 + 1` of `count`, for schedulers that number from 0 (a Kubernetes Indexed
    /// Job's `JOB_COMPLETION_INDEX`, an AWS Batch array index).
    pub fn from_zero_based(index0: u64, count: u64) -> Result<Shard, ShardError> {
        match index0.checked_add(1) {
            Some(k) => Shard::new(k, count),
            None => Err(ShardError(format!("{index0} (0-based)/{count}"))),
        }
    }

    /// K, from 1 to N.
    pub fn index(self) -> u64 {
        self.index
    }

    /// N.
    pub fn count(self) -> u64 {
        self.count
    }

    /// The shard (1-based) of `count` that holds `key`.
    pub fn of(key: &[u8], count: u64) -> u64 {
        let digest = Md5Digest::of(key);
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest.as_bytes()[..8]);
        u64::from_be_bytes(head) % count.max(1) + 1
    }

    /// Whether this shard holds `key`.
    pub fn contains(self, key: &[u8]) -> bool {
        Shard::of(key, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// Reads `K/N`: plain decimal digits, 1 ≤ K ≤ N.
    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let number = |t: &str| -> Result<u64, ShardError> {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse().map_err(|_| bad())
        };
        Shard::new(number(k)?, number(n)?).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!("3/8".parse::<Shard>().unwrap(), Shard::new(3, 8).unwrap());
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in [
            "0/3",
            "4/3",
            "1/0",
            "",
            "/",
            "1/",
            "/2",
            "+1/2",
            "1/2/3",
            " 1/2",
            "1/99999999999999999999",
            "a/b",
        ] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.to_string().contains("expected K/N"), "{bad}: {e}");
        }
        assert_eq!(Shard::from_zero_based(0, 4).unwrap().index(), 1);
        assert!(Shard::from_zero_based(u64::MAX, 4).is_err());
        assert!(Shard::from_zero_based(4, 4).is_err());
    }

    #[test]
    fn every_key_in_exactly_one_shard() {
        for n in 1..=7u64 {
            let shards: Vec<Shard> = (1..=n).map(|k| Shard::new(k, n).unwrap()).collect();
            let mut per = vec![0u64; n as usize];
            for i in 0..2000 {
                let key = format!("data/{i}.bin");
                let holders: Vec<&Shard> = shards.iter().filter(|s| s.contains(key.as_bytes())).collect();
                assert_eq!(holders.len(), 1, "{key} in {n} shards");
                per[holders[0].index() as usize - 1] += 1;
            }
            // A hash spreads the keys: no shard is empty or holds more than twice its share.
            for c in per {
                assert!(c > 0 && c < 4000 / n + 20, "{n} shards: {c}");
            }
        }
    }

    #[test]
    fn the_rule_is_stable() {
        // MD5("a") = 0cc175b9c0f1b6a8…: 0x0cc175b9c0f1b6a8 mod 10 = 0, so shard 1 of 10.
        assert_eq!(0x0cc1_75b9_c0f1_b6a8u64 % 10, 0);
        assert_eq!(Shard::of(b"a", 10), 1);
    }
}
