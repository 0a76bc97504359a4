//! Words for the library's typed answers: the sentence of a reason, the advice of the needs, the
//! JSON of a report. The library decides; this module only says it.
//!
//! Advice is pasted into shells, so every file name in it is quoted for a POSIX shell
//! ([`shell_quote`]); `BUCKET` and `KEY` are placeholders for the user to fill in (`check` knows
//! the key of a listed object and fills it in).

use std::borrow::Cow;
use std::fmt::Write as _;

use etagsum::{
    ChecksumReport, ChecksumType, Etag, Evidence, Layout, Need, OpaqueShape, Reason, RemoteEtag, Report, Sse,
    Verdict, Warning,
};
use serde_json::{json, Value};

/// `n` and the noun, plural unless `n` is 1: "1 part", "3 parts".
pub(crate) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "part size 8 MiB (3 parts)", "part sizes 5242880,1 (2 parts)", "single part".
pub(crate) fn describe(layout: &Layout, size: u64) -> String {
    match layout.part_count(size) {
        Ok(n) if layout.is_multipart() => format!("{layout} ({})", count(n, "part")),
        _ => layout.to_string(),
    }
}

/// Quotes `s` for a POSIX shell: as it is when it holds only characters no shell treats
/// specially, otherwise in single quotes, each `'` written as `'\''`. A name that starts with `-`
/// gets `./` in front so that the command does not read it as an option.
pub(crate) fn shell_quote(s: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    let s: Cow<'_, str> = if s.starts_with('-') { Cow::Owned(format!("./{s}")) } else { Cow::Borrowed(s) };
    if !s.is_empty() && s.chars().all(plain) {
        return s;
    }
    Cow::Owned(format!("'{}'", s.replace('\'', r"'\''")))
}

/// A file name for advice. A name that is not UTF-8 cannot sit in single quotes as text, so its
/// bytes are rebuilt by POSIX `printf` from octal escapes (a trailing newline in such a name would
/// be lost to the command substitution; nothing else is).
pub(crate) fn shell_path(path: &std::path::Path) -> String {
    match path.to_str() {
        Some(s) => shell_quote(s).into_owned(),
        None => {
            let mut out = String::from("\"$(printf '");
            for &b in path.as_os_str().as_encoded_bytes() {
                if b.is_ascii_alphanumeric() || b"_@+=:,./-".contains(&b) {
                    out.push(b as char);
                } else {
                    let _ = write!(out, "\\{b:03o}");
                }
            }
            out.push_str("')\"");
            out
        }
    }
}

fn remote_text(r: Option<&RemoteEtag>) -> Option<String> {
    r.map(RemoteEtag::to_string)
}

/// A fact of `verify`'s command line, so that advice can replace one and keep the others.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fact {
    Layout,
    Size,
    Sse,
    ChecksumType,
}

/// The facts of a report as `verify` takes them back, but `without` (which the advice then adds
/// itself): the ETag (quoted for a shell), a `--checksum ALG=VALUE` per checksum, and the options
/// the caller gave.
fn facts(r: &Report, without: Option<Fact>) -> String {
    let mut out: Vec<String> = Vec::new();
    if let Some(e) = remote_text(r.remote_etag.as_ref()) {
        out.push(shell_quote(&e).into_owned());
    }
    for c in &r.checksums {
        out.push(format!("--checksum {}={}", c.remote.algorithm().name().to_ascii_lowercase(), c.remote));
    }
    let f = &r.facts;
    if let (Some(t), true) = (f.checksum_type, without != Some(Fact::ChecksumType)) {
        out.push(format!(
            "--checksum-type {}",
            if t == ChecksumType::Composite { "composite" } else { "full" }
        ));
    }
    if let (Some(s), true) = (f.remote_size, without != Some(Fact::Size)) {
        out.push(format!("--size {s}"));
    }
    match (&f.layout, without != Some(Fact::Layout)) {
        (Some(Layout::Single), true) => out.push("--single".to_string()),
        (Some(Layout::Uniform { part_size, .. }), true) => out.push(format!("--part-size {part_size}")),
        (Some(Layout::Explicit { part_sizes, .. }), true) => {
            let sizes: Vec<String> = part_sizes.iter().map(u64::to_string).collect();
            out.push(format!("--part-sizes {}", sizes.join(",")));
        }
        _ => {}
    }
    let sse = match f.sse {
        Sse::None => Some("none"),
        Sse::S3 => Some("s3"),
        Sse::Kms => Some("kms"),
        Sse::C => Some("c"),
        _ => None,
    };
    if let (Some(sse), true) = (sse, without != Some(Fact::Sse)) {
        out.push(format!("--sse {sse}"));
    }
    out.join(" ")
}

/// " (composite, part size 8 MiB (3 parts))" or " (full-object)" for a checksum's answer.
fn checksum_how(c: &ChecksumReport, size: u64) -> String {
    match (c.checksum_type, &c.layout) {
        (Some(ChecksumType::Composite), Some(l)) => format!("composite, {}", describe(l, size)),
        (Some(ChecksumType::Composite), None) => "composite".to_string(),
        (Some(ChecksumType::FullObject), _) => "full-object".to_string(),
        (_, _) => "full-object or composite".to_string(),
    }
}

/// The report of the checksum of `algorithm` that decided.
fn deciding(r: &Report, algorithm: etagsum::ChecksumAlgorithm, verdict: Verdict) -> Option<&ChecksumReport> {
    r.checksums.iter().find(|c| c.remote.algorithm() == algorithm && c.verdict == verdict)
}

/// The sentence that says why.
pub(crate) fn reason(r: &Report) -> String {
    let remote = remote_text(r.remote_etag.as_ref()).unwrap_or_default();
    let computed = r.computed_etag.map(|e| e.to_string()).unwrap_or_default();
    match &r.reason {
        Reason::Md5Equal => "the MD5 of the file equals the remote ETag".to_string(),
        Reason::Reproduced => match &r.layout {
            Some(l) => format!("reproduced with {}", describe(l, r.size)),
            None => "reproduced".to_string(),
        },
        Reason::SizeDiffers { remote, local } => {
            format!("the remote object has {}, the local file {local}", count(*remote, "byte"))
        }
        Reason::DigestDiffers => match &r.layout {
            Some(l) if l.is_multipart() => format!("{} gives {computed}, not {remote}", describe(l, r.size)),
            _ => format!("the MD5 of the file is {computed}, not {remote}"),
        },
        Reason::NotMd5 { shape } => {
            let looks = match shape {
                OpaqueShape::Hex { digits } => format!("{digits} hex digits, not the 32 of an MD5"),
                OpaqueShape::Base64 => "base64 text, not the hex of an MD5".to_string(),
                _ => "not the hex of an MD5".to_string(),
            };
            format!(
                "the remote ETag is {looks}: it is not MD5-based (an object encrypted with SSE-KMS, DSSE-KMS or \
                 SSE-C, a directory bucket, or a store with its own ETag scheme)"
            )
        }
        Reason::Encrypted { sse } => format!(
            "the object is encrypted with {}: S3 does not make its ETag from the MD5 of the content",
            match sse {
                Sse::C => "SSE-C",
                _ => "SSE-KMS",
            }
        ),
        Reason::LayoutDisagrees { layout_parts, etag_parts } => {
            let gives = match layout_parts {
                None => "a single PUT gives a plain MD5 ETag".to_string(),
                Some(m) => match &r.layout {
                    Some(l) => format!("{l} gives {} for {}", count(*m, "part"), count(r.size, "byte")),
                    None => format!("the layout given gives {}", count(*m, "part")),
                },
            };
            let has = match etag_parts {
                None => "the remote ETag is a plain MD5 (a single PUT)".to_string(),
                Some(n) => format!("the remote ETag has {}", count(u64::from(*n), "part")),
            };
            format!("{gives}, but {has}: the layout given is not the upload's, or the file is not the object")
        }
        Reason::PartSizesDisagree { sum, local } => {
            let sum = match sum {
                Some(s) => count(*s, "byte"),
                None => "more than 18446744073709551615 bytes".to_string(),
            };
            format!(
                "the part sizes given add up to {sum}, but the file has {}: the part sizes are not the upload's, \
                 or the file is not the object",
                count(*local, "byte")
            )
        }
        Reason::NoUniformLayout { parts } => format!(
            "no part size splits {} into {} of equal size (the last one shorter): the parts were uneven, or the \
             object has another size",
            count(r.size, "byte"),
            count(u64::from(*parts), "part")
        ),
        Reason::NotReproduced { parts, interval, omitted } => {
            let mut s = format!(
                "none of the {} tried reproduces the ETag",
                if r.tried == 1 { "1 layout".to_string() } else { format!("{} layouts", r.tried) }
            );
            if let Some(iv) = interval {
                let _ = write!(s, "; part sizes from {iv} give {}", count(u64::from(*parts), "part"));
            }
            if *omitted > 0 {
                let _ = write!(s, " ({} more whole-unit part sizes left untried)", omitted);
            }
            s.push_str(
                ": the part size is unusual, the parts are uneven, the object is encrypted or has another size, \
                 or the file differs",
            );
            s
        }
        Reason::ChecksumEqual { algorithm } => match deciding(r, *algorithm, Verdict::Match) {
            Some(c) => format!("the {algorithm} checksum ({}) equals the remote one", checksum_how(c, r.size)),
            None => format!("the {algorithm} checksum equals the remote one"),
        },
        Reason::ChecksumDiffers { algorithm } => match deciding(r, *algorithm, Verdict::Mismatch) {
            Some(c) => format!(
                "the {algorithm} checksum of the file ({}) is {}, not {}",
                checksum_how(c, r.size),
                c.computed.map(|v| v.to_string()).unwrap_or_default(),
                c.remote
            ),
            None => format!("the {algorithm} checksum of the file differs"),
        },
        Reason::ChecksumNotReproduced { algorithm } => format!(
            "the {algorithm} checksum could not be reproduced: a composite value depends on the upload's part sizes, and none of the layouts tried gives it (or the file differs)"
        ),
        Reason::Disagree { matched, differs } => {
            let why = match differs {
                Evidence::Etag if r.facts.sse != Sse::Unknown => {
                    "the values are of different objects or versions, or the layout given is not the upload's"
                }
                Evidence::Etag => {
                    "the ETag of an object encrypted with SSE-KMS or SSE-C is not an MD5 (say so with --sse), or the values are of different objects or versions"
                }
                _ => "the values are of different objects or versions, or the checksum's type or part count is not the upload's",
            };
            match (matched, differs) {
                // The same algorithm given twice, with two values.
                (Evidence::Checksum(a), Evidence::Checksum(b)) if a == b => {
                    format!("one {a} checksum matches but another does not: {why}")
                }
                _ => format!("{matched} matches but {differs} does not: {why}"),
            }
        }
        _ => r.reason.code().replace('_', " "),
    }
}

/// The requests that read what the report needs, and the command that feeds each fact back, or
/// `None` when nothing is needed. The requests name the object's key when it is known (`check`
/// of a listing), else the placeholder `KEY`.
pub(crate) fn advice(r: &Report, path: &std::path::Path, key: Option<&[u8]>) -> Option<String> {
    if r.needs.is_empty() {
        return None;
    }
    // Standard input is named `-`, which the command reads again (the data piped to it anew).
    let name = if path.as_os_str() == "-" { "-".to_string() } else { shell_path(path) };
    let etag = facts(r, None);
    let but = |fact| facts(r, Some(fact));
    let key = match key.map(std::str::from_utf8) {
        Some(Ok(k)) => shell_quote(k).into_owned(),
        _ => "KEY".to_string(),
    };
    let head = format!("aws s3api head-object --bucket BUCKET --key {key}");
    let parts = match &r.remote_etag {
        Some(RemoteEtag::Md5(e)) => e.parts(),
        _ => r.checksums.iter().find_map(|c| c.remote.parts()),
    };
    let clauses: Vec<String> = r
        .needs
        .iter()
        .map(|need| match need {
            Need::PartSize => format!(
                "read the part size: {head} --part-number 1 (ContentLength is the part size{}), then run: \
                 etagsum verify {name} {} --part-size <ContentLength>",
                parts.map(|n| format!("; PartsCount should be {n}")).unwrap_or_default(),
                but(Fact::Layout)
            ),
            Need::PartSizes => format!(
                "for uneven parts, list every part's size: aws s3api get-object-attributes --bucket BUCKET --key {key} \
                 --object-attributes ObjectParts, then run: etagsum verify {name} {} --part-sizes \
                 <Size1>,<Size2>,...",
                but(Fact::Layout)
            ),
            Need::Encryption => format!(
                "if the object is encrypted with SSE-KMS or SSE-C, its ETag is not an MD5 of the content; check with: \
                 {head} --query '[ServerSideEncryption,SSECustomerAlgorithm]' (aws:kms, aws:kms:dsse or an \
                 SSECustomerAlgorithm mean the ETag cannot be compared: run etagsum verify {name} {sse} --sse kms; \
                 AES256 or nothing: run etagsum verify {name} {sse} --sse s3)",
                sse = but(Fact::Sse)
            ),
            Need::RemoteSize => format!(
                "read the object's size: {head} --query ContentLength, then run: etagsum verify {name} {} --size \
                 <ContentLength>",
                but(Fact::Size)
            ),
            Need::Checksum => format!(
                "compare an additional checksum, which survives encryption: {head} --checksum-mode ENABLED, then run: \
                 etagsum verify {name} {etag} --checksum <algorithm>=<value>"
            ),
            Need::ChecksumType => format!(
                "read whether the checksum is full-object or composite: aws s3api get-object-attributes --bucket \
                 BUCKET --key {key} --object-attributes Checksum (ChecksumType), then run: etagsum verify {name} \
                 {} --checksum-type <full or composite>",
                but(Fact::ChecksumType)
            ),
            _ => format!("read the object's {}", need.code().replace('_', " ")),
        })
        .collect();
    Some(clauses.join("; "))
}

/// The sentence of a warning.
pub(crate) fn warning(w: &Warning, size: u64) -> String {
    match w {
        Warning::Limit(l) => l.to_string(),
        Warning::LayoutIgnored => {
            "the remote ETag is a plain MD5 (a single PUT), so the part size given does not apply".to_string()
        }
        Warning::LayoutWrong { given } => {
            format!("the layout given ({}) does not reproduce the ETag", describe(given, size))
        }
        Warning::EtagNotCompared { reason } => format!(
            "the checksum decided; the ETag given could not be compared ({}), so it is no evidence either way",
            reason.code().replace('_', " ")
        ),
        _ => "a warning this version cannot describe".to_string(),
    }
}

/// The text inside the parentheses of a verdict line.
pub(crate) fn explain(r: &Report, path: &std::path::Path) -> String {
    explain_with(r, path, true, None)
}

/// [`explain`], naming the uploaders of a match or not (`check` prints one line per file of a
/// tree: the layout says enough there).
pub(crate) fn explain_with(
    r: &Report,
    path: &std::path::Path,
    uploaders: bool,
    key: Option<&[u8]>,
) -> String {
    let mut s = match (r.verdict, &r.layout, &r.reason) {
        (Verdict::Match, Some(l), Reason::Md5Equal | Reason::Reproduced) => describe(l, r.size),
        _ => reason(r),
    };
    if r.verdict == Verdict::Match {
        for c in r.checksums.iter().filter(|c| !matches!(r.reason, Reason::ChecksumEqual { algorithm } if algorithm == c.remote.algorithm() && c.verdict == Verdict::Match)) {
            let _ = write!(s, "; {} {}", c.remote.algorithm(), match c.verdict {
                Verdict::Match => format!("{} OK", checksum_how(c, r.size)),
                v => v.label().to_string(),
            });
        }
    }
    if uploaders && r.verdict == Verdict::Match && !r.uploaders.is_empty() {
        let _ = write!(s, "; uploaders: {}", r.uploaders.join(", "));
    }
    if let Some(a) = advice(r, path, key) {
        let _ = write!(s, "; {a}");
    }
    s
}

/// The JSON form of a layout for an object of `size` bytes (the part count needs the size).
pub(crate) fn layout_json(layout: Option<&Layout>, size: Option<u64>) -> Value {
    match layout {
        None => Value::Null,
        Some(Layout::Single) => json!({"kind": "single"}),
        Some(l @ Layout::Uniform { part_size, .. }) => match size.and_then(|s| l.part_count(s).ok()) {
            Some(n) => json!({"kind": "multipart", "part_size": part_size, "parts": n}),
            None => json!({"kind": "multipart", "part_size": part_size}),
        },
        Some(Layout::Explicit { part_sizes, .. }) => {
            json!({"kind": "multipart", "part_size": null, "part_sizes": part_sizes, "parts": part_sizes.len()})
        }
    }
}

/// A report as one JSON object, with the keys of the `--json` output. `fields` holds the path's
/// fields (see the caller); `key` is the object's key when it is known (the advice names it).
pub(crate) fn report_json(
    r: &Report,
    path: &std::path::Path,
    key: Option<&[u8]>,
    mut fields: serde_json::Map<String, Value>,
) -> Value {
    let computed: Option<Etag> = r.computed_etag;
    fields.insert("size".into(), json!(r.size));
    fields.insert("remote_etag".into(), json!(remote_text(r.remote_etag.as_ref())));
    fields.insert("computed_etag".into(), json!(computed.map(|e| e.to_string())));
    fields.insert("verdict".into(), json!(r.verdict));
    fields.insert("layout".into(), layout_json(r.layout.as_ref(), Some(r.size)));
    fields.insert("uploaders".into(), json!(r.uploaders));
    fields.insert("reason".into(), json!(reason(r)));
    fields.insert("reason_code".into(), json!(r.reason.code()));
    fields.insert("needs".into(), json!(r.needs.iter().map(|n| n.code()).collect::<Vec<_>>()));
    fields.insert("advice".into(), json!(advice(r, path, key)));
    fields.insert("tried".into(), json!(r.tried));
    fields
        .insert("warnings".into(), json!(r.warnings.iter().map(|w| warning(w, r.size)).collect::<Vec<_>>()));
    let checksums: Vec<Value> = r
        .checksums
        .iter()
        .map(|c| {
            json!({
                "algorithm": c.remote.algorithm().name(),
                "remote": c.remote.to_string(),
                "computed": c.computed.map(|v| v.to_string()),
                "verdict": c.verdict,
                "type": c.checksum_type.map(|t| t.to_string()),
                "layout": layout_json(c.layout.as_ref(), Some(r.size)),
            })
        })
        .collect();
    fields.insert("checksums".into(), json!(checksums));
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_a_shell_would_read() {
        assert_eq!(shell_quote("data.bin"), "data.bin");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("x'; touch PWNED; '"), r"'x'\''; touch PWNED; '\'''");
        assert_eq!(shell_quote("-n"), "./-n");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(1, "part"), "1 part");
        assert_eq!(count(0, "byte"), "0 bytes");
        assert_eq!(count(2, "byte"), "2 bytes");
    }
}
