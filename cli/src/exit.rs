//! Exit statuses, and how the statuses of several files combine.

/// The exit status of a run: 0 every file OK, 1 a mismatch, 2 an error, 3 an inconclusive result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Exit {
    /// Every file OK.
    #[default]
    Ok,
    /// At least one mismatch.
    Mismatch,
    /// An error: usage, I/O, unreadable input.
    Error,
    /// At least one inconclusive verdict.
    Inconclusive,
}

impl Exit {
    /// Which of two outcomes decides the run's status: an error over a mismatch over an
    /// inconclusive verdict over OK.
    pub(crate) fn merge(self, other: Exit) -> Exit {
        fn rank(e: Exit) -> u8 {
            match e {
                Exit::Ok => 0,
                Exit::Inconclusive => 1,
                Exit::Mismatch => 2,
                Exit::Error => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Mismatch => 1,
            Exit::Error => 2,
            Exit::Inconclusive => 3,
        }
    }
}

impl From<etagsum::Verdict> for Exit {
    fn from(v: etagsum::Verdict) -> Exit {
        match v {
            etagsum::Verdict::Match => Exit::Ok,
            etagsum::Verdict::Mismatch => Exit::Mismatch,
            etagsum::Verdict::Inconclusive => Exit::Inconclusive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Exit::{self, *};

    #[test]
    fn error_over_mismatch_over_inconclusive_over_ok() {
        let all = [Ok, Inconclusive, Mismatch, Error];
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                let want = all[i.max(j)];
                assert_eq!(a.merge(*b), want, "{a:?} {b:?}");
            }
        }
        assert_eq!(all.iter().fold(Exit::Ok, |a, b| a.merge(*b)).code(), 2);
        assert_eq!(Ok.merge(Inconclusive).code(), 3);
        assert_eq!(Inconclusive.merge(Mismatch).code(), 1);
    }
}
