//! The additional checksums of a verification: which values to compute for each remote checksum,
//! and what each came to.
//!
//! A remote value is full-object or composite. A `-N` says composite; the caller may say which
//! ([`VerifyOptions::checksum_type`](super::VerifyOptions::checksum_type)); S3 has no composite
//! CRC64NVME, and a single PUT (a plain MD5 ETag) has no composite value. Anything else may be
//! either (GetObjectAttributes shows a composite value without its `-N`), and both are tried.
//!
//! A composite value needs the layout, as a multipart ETag does: it shares the ETag's candidates
//! when the part counts agree, else it has its own (the caller's layout, the part sizes that give its
//! `-N`, or the uploaders' layouts at this size).

use super::Need;
use crate::checksum::{Algorithm, Checksum, ChecksumType};
use crate::engine::ChecksumRequest;
use crate::guess::{self, Candidate, Origin};
use crate::layout::{Layout, LayoutError};
use crate::uploaders;

/// What to compute for one remote checksum.
pub(super) struct SumPlan {
    pub(super) remote: Checksum,
    /// The value may be full-object.
    pub(super) full: bool,
    /// The value may be composite.
    pub(super) composite: bool,
    /// The value is full-object for certain: one that differs is evidence.
    pub(super) full_certain: bool,
    /// Composite values are computed over the ETag's candidate layouts.
    pub(super) shares: bool,
    /// Otherwise, its own candidate layouts (the likely ones first).
    pub(super) own: Vec<Candidate>,
    /// A layout known to be the object's (the caller's, agreeing with the `-N`; the whole object
    /// for `-1`): a composite value that differs for it is evidence.
    pub(super) known: Option<Layout>,
    /// What would settle a composite value that has no layout to try.
    pub(super) needs: Vec<Need>,
    /// The caller's layout, when the size was not known before reading (a stream): known once
    /// the size read gives it the value's `-N`.
    pending: Option<Layout>,
}

/// What the ETag says, for planning the checksums.
pub(super) struct EtagFacts<'a> {
    /// The ETag is MD5-based: its part count (`None`: a plain MD5, a single PUT).
    pub(super) parts: Option<Option<u32>>,
    /// The ETag's candidate layouts, when it has some to hash.
    pub(super) candidates: Option<&'a [Candidate]>,
}

impl SumPlan {
    pub(super) fn new(
        remote: Checksum,
        hint: Option<ChecksumType>,
        etag: &EtagFacts<'_>,
        given: Option<&Layout>,
        size: Option<u64>,
    ) -> SumPlan {
        let (full, composite) = match (remote.parts(), hint) {
            (Some(_), _) | (None, Some(ChecksumType::Composite)) => (false, true),
            (None, Some(ChecksumType::FullObject)) => (true, false),
            (None, None) if remote.algorithm() == Algorithm::Crc64Nvme => (true, false),
            // A single PUT carries a full-object value only.
            (None, None) if etag.parts == Some(None) => (true, false),
            (None, None) => (true, true),
        };
        let mut plan = SumPlan {
            remote,
            full,
            composite,
            full_certain: full && !composite,
            shares: false,
            own: Vec::new(),
            known: None,
            needs: Vec::new(),
            pending: None,
        };
        // A layout given whose part count is not the value's `-N` (a single PUT has none): the
        // caller's facts disagree, and hashing that layout would prove nothing.
        if let (Some(layout), Some(n)) = (given, remote.parts()) {
            let gives = match size {
                _ if !layout.is_multipart() => Some(None),
                Some(s) => layout.part_count(s).ok().map(Some),
                None => None,
            };
            if gives.is_some_and(|g| g != Some(u64::from(n))) {
                plan.composite = false;
                let explicit = matches!(layout, Layout::Explicit { .. });
                plan.needs.push(if explicit { Need::PartSizes } else { Need::PartSize });
                return plan;
            }
        }
        // The caller's single PUT: only a full-object value is tried (the type is still not
        // certain: what the caller says is not evidence on its own).
        if given.is_some_and(|l| !l.is_multipart()) && remote.parts().is_none() {
            plan.composite = false;
            if full && composite {
                plan.needs.push(Need::ChecksumType);
            }
            return plan;
        }
        if !composite {
            return plan;
        }
        let etag_parts = etag.parts.flatten();
        if let (Some(_), Some(m)) = (etag.candidates, etag_parts) {
            if remote.parts().is_none_or(|n| n == m) {
                plan.shares = true;
                return plan;
            }
        }
        // Without its own `-N`, the value has the part count of the ETag beside it, if any (an
        // encrypted object's ETag still ends in its part count).
        let n = remote.parts().or(etag_parts);
        let push = |layout: Layout, origin: Origin, own: &mut Vec<Candidate>| {
            if !own.iter().any(|c| c.layout == layout) {
                own.push(Candidate { layout, uploaders: Vec::new(), origin });
            }
        };
        if let Some(layout) = given.filter(|l| l.is_multipart()) {
            let agrees = match (n, size) {
                (Some(n), Some(s)) => layout.part_count(s) == Ok(u64::from(n)),
                _ => false,
            };
            if agrees {
                plan.known = Some(layout.clone());
            } else if size.is_none() && n.is_some() {
                plan.pending = Some(layout.clone());
            }
            push(layout.clone(), Origin::Fixed, &mut plan.own);
        }
        match (n, size) {
            (Some(1), _) => {
                // One part is the whole object, whatever the part size.
                let whole = Layout::Uniform { part_size: size.map_or(u64::MAX, |s| s.max(1)) };
                plan.known = Some(whole.clone());
                push(whole, Origin::Fixed, &mut plan.own);
            }
            (Some(n), Some(s)) => {
                let c = guess::candidates_for_parts(s, Some(n));
                for c in c.candidates {
                    push(c.layout, c.origin, &mut plan.own);
                }
                plan.needs.extend([Need::PartSize, Need::PartSizes]);
            }
            (None, Some(s)) => {
                for (layout, _) in uploaders::predicted_layouts(s) {
                    if layout.is_multipart() {
                        push(layout, Origin::Uploader, &mut plan.own);
                    }
                }
                plan.needs.push(Need::PartSize);
            }
            (_, None) => plan.needs.extend([Need::PartSize, Need::RemoteSize]),
        }
        // A layout that does not fit the object, or gives more parts than a composite value can
        // count, cannot have made the value.
        if let Some(s) = size {
            let fits = |l: &Layout| l.part_count(s).is_ok_and(|n| n <= u64::from(u32::MAX));
            plan.own.retain(|c| fits(&c.layout));
            if plan.known.as_ref().is_some_and(|k| !fits(k)) {
                plan.known = None;
            }
        }
        if full {
            // Which of the two it is would settle it.
            plan.needs.push(Need::ChecksumType);
        }
        plan
    }

    /// The requests for the layouts `layouts` of the ETag's candidates (when the plan shares them)
    /// and, in the first stage, the full-object value and the plan's own likely layouts (all of
    /// them when there is one stage), or in the second stage its own other layouts.
    pub(super) fn requests(&self, etag_layouts: &[Layout], stage: Stage) -> Vec<ChecksumRequest> {
        let a = self.remote.algorithm();
        let mut out = Vec::new();
        if self.full && stage != Stage::Second {
            out.push(ChecksumRequest::FullObject(a));
        }
        if self.composite {
            if self.shares {
                out.extend(etag_layouts.iter().map(|l| ChecksumRequest::Composite(a, l.clone())));
            }
            for c in &self.own {
                let likely = matches!(c.origin, Origin::Uploader | Origin::Fixed);
                let take = match stage {
                    Stage::Only => true,
                    Stage::First => likely,
                    Stage::Second => !likely,
                };
                if take {
                    out.push(ChecksumRequest::Composite(a, c.layout.clone()));
                }
            }
        }
        out
    }
}

/// Which layouts a read covers: all of them, or the likely ones first and the others only if
/// needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    Only,
    First,
    Second,
}

/// The values computed for one remote checksum: (request, value).
pub(super) type Computed = Vec<(ChecksumRequest, Result<Checksum, LayoutError>)>;

/// What one remote checksum came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Reproduced: by the full-object value (`None`) or the composite one of a layout.
    Match(Option<Layout>, Checksum),
    /// The value differs where it is known: the full-object value, or the known layout's.
    Differs(Option<Layout>, Checksum),
    /// Not reproduced, and not known to differ; the full-object value, if it was computed.
    Unknown(Option<Checksum>),
}

impl SumPlan {
    /// The caller's layout, known now that the source's `size` was read, if its part count is
    /// the value's `-N`.
    pub(super) fn known_after(&self, size: u64) -> Option<Layout> {
        let n = self.remote.parts()?;
        self.pending.clone().filter(|l| l.part_count(size) == Ok(u64::from(n)))
    }

    /// Judges the values computed, given the layout known to be the object's (`known`: from a
    /// match of other evidence, or the ETag's known first candidate when the candidates are
    /// shared).
    pub(super) fn judge(&self, computed: &Computed, known: Option<&Layout>) -> Outcome {
        let equal = |value: &Checksum| {
            value.bytes() == self.remote.bytes()
                && self.remote.parts().is_none_or(|n| value.parts() == Some(n))
        };
        let mut full_value = None;
        for (request, value) in computed {
            let Ok(value) = value else { continue };
            match request {
                ChecksumRequest::FullObject(_) => {
                    if equal(value) {
                        return Outcome::Match(None, *value);
                    }
                    full_value = Some(*value);
                }
                ChecksumRequest::Composite(_, layout) => {
                    if equal(value) {
                        return Outcome::Match(Some(layout.clone()), *value);
                    }
                }
            }
        }
        let known = self.known.as_ref().or(known);
        let known_value = known.and_then(|k| {
            computed.iter().find_map(|(r, v)| match (r, v) {
                (ChecksumRequest::Composite(_, l), Ok(v)) if l == k => Some((l.clone(), *v)),
                _ => None,
            })
        });
        match (full_value, known_value) {
            (Some(f), _) if self.full_certain => Outcome::Differs(None, f),
            (_, Some((l, v))) if !self.full => Outcome::Differs(Some(l), v),
            // Either type: both must differ.
            (Some(_), Some((l, v))) => Outcome::Differs(Some(l), v),
            (full_value, _) => Outcome::Unknown(full_value),
        }
    }
}
