//! Byte sizes as people and upload tools write them: `8388608`, `8MiB`, `8M`, `8MB`, `5GiB`.
//!
//! Suffixes are binary. `8MB` means 8 MiB, as the aws cli and s3cmd read it: a part size written
//! in decimal megabytes would not match what those tools upload.

use std::fmt;

use thiserror::Error;

/// Why a size could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid size '{input}': {problem}; expected digits with an optional K, M, G or T suffix (KiB/KB, MiB/MB, ... all binary), e.g. 8388608, 8MiB or 8M")]
pub struct SizeError {
    input: String,
    problem: &'static str,
}

/// Parses a byte size: digits and an optional binary suffix (`K`, `KB`, `KiB`, ... up to `T`),
/// case-insensitive, with optional spaces between the number and the suffix.
pub fn parse_size(input: &str) -> Result<u64, SizeError> {
    let err = |problem| SizeError { input: input.to_string(), problem };
    let s = input.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    if digits.is_empty() {
        return Err(err(if s.is_empty() { "it is empty" } else { "it does not start with a digit" }));
    }
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(err("the suffix is not one of K, M, G, T (with optional B or iB)")),
    };
    let n: u64 = digits.parse().map_err(|_| err("the number does not fit in 64 bits"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| err("the size does not fit in 64 bits"))
}

/// Why a list of part sizes could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PartSizesError {
    /// The list is empty.
    #[error("the list of part sizes is empty; expected sizes separated by commas, e.g. 8MiB,8MiB,3145728")]
    Empty,
    /// One entry is not a size.
    #[error("part {index} of the list: {error}")]
    Entry {
        /// 1-based position in the list.
        index: usize,
        /// What is wrong with it.
        error: SizeError,
    },
}

/// Parses a comma-separated list of part sizes (`8MiB,8MiB,3145728`), as GetObjectAttributes lists
/// them, each read by [`parse_size`]. Empty entries (`8MiB,,1`) are errors, not zeros.
pub fn parse_part_sizes(input: &str) -> Result<Vec<u64>, PartSizesError> {
    if input.trim().is_empty() {
        return Err(PartSizesError::Empty);
    }
    input
        .split(',')
        .enumerate()
        .map(|(i, s)| parse_size(s).map_err(|error| PartSizesError::Entry { index: i + 1, error }))
        .collect()
}

/// A size for people: `8 MiB` when it is a whole number of KiB, MiB, GiB or TiB, otherwise the
/// exact number of bytes (`10000000 B`).
pub fn display_size(bytes: u64) -> impl fmt::Display {
    struct D(u64);
    impl fmt::Display for D {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
                let unit_bytes = 1u64 << shift;
                if self.0 >= unit_bytes && self.0.is_multiple_of(unit_bytes) {
                    return write!(f, "{} {unit}", self.0 >> shift);
                }
            }
            write!(f, "{} B", self.0)
        }
    }
    D(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_upload_tools_accept() {
        for (s, v) in [
            ("8388608", 8 << 20),
            ("8MiB", 8 << 20),
            ("8M", 8 << 20),
            ("8MB", 8 << 20),
            ("8mb", 8 << 20),
            (" 8 MiB ", 8 << 20),
            ("5GiB", 5 << 30),
            ("16k", 16 << 10),
            ("0", 0),
            ("10000000", 10_000_000),
            ("1T", 1 << 40),
            ("42B", 42),
        ] {
            assert_eq!(parse_size(s), Ok(v), "{s}");
        }
    }

    #[test]
    fn rejects_garbage_and_overflow_with_a_clear_message() {
        for s in ["", "MiB", "8QB", "-1", "1.5M", "8 M B", "99999999999999999999", "17179869184T", "0x10"] {
            let e = parse_size(s).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid size '{s}'")), "{e}");
            assert!(e.contains("expected digits"), "{e}");
        }
    }

    #[test]
    fn part_size_lists_name_the_bad_entry() {
        assert_eq!(parse_part_sizes("8MiB,8MiB,3"), Ok(vec![8 << 20, 8 << 20, 3]));
        assert_eq!(parse_part_sizes(" 5 MiB , 1"), Ok(vec![5 << 20, 1]));
        assert_eq!(parse_part_sizes(""), Err(PartSizesError::Empty));
        let e = parse_part_sizes("8MiB,,1").unwrap_err().to_string();
        assert!(e.starts_with("part 2 of the list: invalid size '': it is empty"), "{e}");
        let e = parse_part_sizes("1,2,99999999999999999999").unwrap_err().to_string();
        assert!(e.starts_with("part 3 of the list: invalid size"), "{e}");
    }

    #[test]
    fn displays_whole_units_and_exact_bytes() {
        assert_eq!(display_size(8 << 20).to_string(), "8 MiB");
        assert_eq!(display_size(10_000_000).to_string(), "10000000 B");
        assert_eq!(display_size(0).to_string(), "0 B");
        assert_eq!(display_size(5 << 30).to_string(), "5 GiB");
    }
}
