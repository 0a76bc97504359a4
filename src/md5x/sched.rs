//! Schedules jobs over the lanes of an engine.
//!
//! The jobs wait in a queue; the active ones sit in lanes. Each engine call advances every
//! busy lane by as many blocks as the shortest of them has left, then the finished jobs leave
//! and queued ones take their lanes, so jobs of different lengths never fall back to a slow
//! loop. Before every call the engine is chosen again from the number of jobs left: a
//! half-empty 32-lane engine is slower than a full 16-lane one, and one job alone runs
//! fastest on the scalar compressor.
//!
//! Staggering: streams whose data start a multiple of 4 KiB apart (the parts of one mapped
//! file, or large allocations, which are page aligned) read the same L1 cache set at every
//! step, and 32 such streams thrash the 8 ways of a set along with the prefetched lines.
//! When the first jobs look like that, lane `i` first runs a throwaway filler of
//! `i * STAGGER_BLOCKS` blocks, so the real streams start, and keep running, that many blocks
//! apart, which spreads them over different sets (equal jobs that follow inherit the offsets).
//! The fillers cost `lanes^2 / 2` blocks of engine time, so they are only used when the jobs
//! are long. Measured on Zen 4 with 32 AVX-512 lanes: 32 x 8 MiB parts of one buffer, from
//! memory, 9.5-10 GB/s staggered against 7 GB/s not (criterion, on a busier machine: 7.0
//! against 6.2 GiB/s); 32 x 64 KiB, in cache, 9.7 against 7.4 GB/s. Below 16 KiB a job the
//! fillers cost more than they save.

use super::engines::{self, Engine};
use super::{scalar, Job, Kernel};

/// The most lanes an engine has.
const MAX_LANES: usize = 32;

/// How many blocks each lane starts after the previous one when staggering.
pub(super) const STAGGER_BLOCKS: usize = 1;

/// Jobs shorter than this (in blocks) are not worth staggering.
const STAGGER_MIN_BLOCKS: usize = 256;

/// Readable bytes for the fillers (their results are thrown away).
static FILLER: [u8; 64 * STAGGER_BLOCKS * MAX_LANES] = [0; 64 * STAGGER_BLOCKS * MAX_LANES];

/// Marks a slot that belongs to no job.
const NO_JOB: usize = usize::MAX;

/// One stream in flight: the job it came from, its state, and its data still to do.
#[derive(Clone, Copy)]
struct Slot<'a> {
    job: usize,
    state: [u32; 4],
    data: &'a [u8],
}

/// Beyond this many jobs left, the widest engine is always the right start.
const PLAN_LIMIT: usize = 256;

/// Which engine to run with `n` jobs left, for every `n` up to [`PLAN_LIMIT`]: the first step
/// of the fastest plan for `n` jobs of equal length, where a plan is a sequence of engine
/// rounds and a round of a `w`-lane engine takes `w / speed` however many lanes are busy.
/// (With 32 jobs on AVX2, for example, two rounds of 16 beat 24 then 8.) Mixed lengths are
/// handled by re-planning whenever a job ends.
fn plan(engines: &[Engine], limit: usize) -> Vec<usize> {
    let mut time = vec![0.0f64; limit + 1];
    let mut first = vec![0; limit + 1];
    for n in 1..=limit {
        let mut best = f64::INFINITY;
        for (i, e) in engines.iter().enumerate() {
            let t = e.lanes as f64 / f64::from(e.speed) + time[n.saturating_sub(e.lanes)];
            if t < best * (1.0 - 1e-9) {
                best = t;
                first[n] = i;
            }
        }
        time[n] = best;
    }
    first
}

/// The engine to run with `left` jobs to go.
fn pick(engines: &[Engine], plan: &[usize], left: usize) -> Engine {
    engines[plan.get(left).copied().unwrap_or(0)]
}

/// Puts fillers in front of the queue when the first jobs are long and start on the same
/// cache set (see the module comment).
fn stagger(queue: &mut Vec<Slot<'_>>, engines: &[Engine], plan: &[usize]) {
    let lanes = pick(engines, plan, queue.len()).lanes;
    let first = &queue[..lanes.min(queue.len())];
    if lanes < 4 || first.len() < 4 {
        return;
    }
    if first.iter().any(|s| s.data.len() / 64 < STAGGER_MIN_BLOCKS) {
        return;
    }
    let mut per_set = [0usize; 64];
    for s in first {
        per_set[(s.data.as_ptr() as usize >> 6) & 63] += 1;
    }
    if per_set.iter().all(|&n| n < 4) {
        return;
    }
    let fillers = (1..first.len()).map(|i| Slot {
        job: NO_JOB,
        state: super::IV,
        data: &FILLER[..64 * STAGGER_BLOCKS * i],
    });
    // Lane 0 takes the first job, lane i the filler of i steps; as each filler ends, the next
    // job takes its lane.
    let rest = queue.split_off(1);
    queue.extend(fillers);
    queue.extend(rest);
}

/// Advances every job completely (see [`super::compress_jobs`]).
pub(super) fn run(kernel: Kernel, jobs: &mut [Job<'_>], staggered: bool) {
    for (i, job) in jobs.iter().enumerate() {
        assert!(
            job.data.len().is_multiple_of(64),
            "job {i}: data length {} is not a multiple of 64",
            job.data.len()
        );
    }
    assert!(kernel.is_supported(), "the {kernel} kernel is not supported by this CPU");
    let engines = engines::engines(kernel);

    let mut queue: Vec<Slot<'_>> = jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| !j.data.is_empty())
        .map(|(i, j)| Slot { job: i, state: *j.state, data: j.data })
        .collect();
    if queue.is_empty() {
        return;
    }
    if queue.len() == 1 {
        let s = &queue[0];
        scalar::compress(jobs[s.job].state, s.data);
        return;
    }
    let plan = plan(engines, queue.len().min(PLAN_LIMIT));
    if staggered {
        stagger(&mut queue, engines, &plan);
    }

    // Jobs not finished yet; fillers do not count, so that they do not change the plan.
    let mut jobs_left = queue.iter().filter(|s| s.job != NO_JOB).count();
    let mut next = 0;
    let mut active: Vec<Slot<'_>> = Vec::with_capacity(MAX_LANES);
    while next < queue.len() || !active.is_empty() {
        let e = pick(engines, &plan, jobs_left.max(1));
        while active.len() < e.lanes && next < queue.len() {
            active.push(queue[next]);
            next += 1;
        }
        let busy = active.len().min(e.lanes);
        if e.lanes == 1 {
            let s = &mut active[0];
            scalar::compress(&mut s.state, s.data);
            s.data = &[];
        } else {
            let n = active[..busy].iter().map(|s| s.data.len() / 64).min().unwrap_or(0);
            let mut states = [[0u32; 4]; MAX_LANES];
            let mut data: [&[u8]; MAX_LANES] = [&[]; MAX_LANES];
            for lane in 0..e.lanes {
                // Idle lanes repeat lane 0: same cache lines, results thrown away.
                let s = &active[if lane < busy { lane } else { 0 }];
                states[lane] = s.state;
                data[lane] = s.data;
            }
            (e.run)(&mut states[..e.lanes], &data[..e.lanes], n);
            for (s, st) in active[..busy].iter_mut().zip(&states) {
                s.state = *st;
                s.data = &s.data[n * 64..];
            }
        }
        let mut i = 0;
        while i < active.len() {
            if active[i].data.is_empty() {
                let s = active.swap_remove(i);
                if s.job != NO_JOB {
                    *jobs[s.job].state = s.state;
                    jobs_left -= 1;
                }
            } else {
                i += 1;
            }
        }
    }
}
