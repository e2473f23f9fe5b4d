//! Reading and planning on several threads: each thread plans only its share of the
//! referral IDs, then the shares' plans are merged in the order of their first rows. Every
//! referral's rows are planned by one thread, in input order, so the plan is exactly the
//! one a single planner makes.
//!
//! Plain CSV ([`plan_inputs`]): the calling thread reads the inputs in blocks of lines,
//! and every thread scans a part of each block and plans its own share's lines of every
//! part (`plan::split_scan`). The reading thread keeps a smaller share ([`READ_COST`]),
//! so that every thread is busy about as long.
//!
//! Anything else ([`plan_streams`]): parsing a JSONL line costs more than planning it, so
//! the records are parsed once, on threads of their own, and every planning thread takes
//! every batch of them.

use std::hash::BuildHasher;

use super::split_scan;
use super::{Plan, PlanOptions, Planner};
use crate::input::{InputError, InputSource, LineRef, ReadOptions, RecordStream};

/// The most planning threads worth starting.
pub const MOST_THREADS: usize = 4;

/// What the reading thread does beyond its part of the scanning and planning, as a part
/// of what a thread's part costs: reading the blocks, and the records the general path
/// reads. With two threads, 0.1 leaves the reading thread 45 % of the IDs (on the
/// benchmark's million-row CSV 0 and 0.2 were slower, side by side).
const READ_COST: f64 = 0.1;

/// A plan and the number of input rows it was made from.
pub type Planned = (Plan, usize);

/// One share's plan, the line of each of its entries' first row (for [`merge`], empty when
/// there is one share), and the number of input rows it was made from.
type SharePlan = (Plan, Vec<LineRef>, usize);

/// A share's planner, all its rows pushed, and the number of them.
pub(super) type SharePlanner = (Planner, usize);

/// Reads and plans `sources` on `threads` threads (at least one): this one reads every
/// input, and each thread scans its part of every block of lines read; the plan is the
/// same whatever the number.
pub fn plan_inputs(
    sources: &[InputSource],
    read: &ReadOptions,
    options: &PlanOptions,
    threads: usize,
) -> Result<Planned, InputError> {
    plan_inputs_in_blocks(sources, read, options, threads, split_scan::BLOCK_BYTES)
}

/// [`plan_inputs`] with blocks of about `block_bytes`: small ones in tests, so that
/// records fall across blocks and parts.
fn plan_inputs_in_blocks(
    sources: &[InputSource],
    read: &ReadOptions,
    options: &PlanOptions,
    threads: usize,
    block_bytes: usize,
) -> Result<Planned, InputError> {
    let threads = threads.clamp(1, MOST_THREADS);
    let shares = Shares::with_reader(threads);
    let roles = split_scan::roles(threads, shares, options);
    in_shares(roles, |share, role| {
        split_scan::plan_role(share, role, sources, read, block_bytes)
    })
}

/// Plans the records of `streams` (every record of the inputs, each stream) on a thread
/// per stream, each planning its share of the IDs; the plan is the same whatever the
/// number. For inputs whose parse costs too much to repeat on every thread: the records
/// are parsed once, on threads of their own ([`crate::input::read_in_background`]).
pub fn plan_streams(
    streams: Vec<RecordStream>,
    options: &PlanOptions,
) -> Result<Planned, InputError> {
    let shares = Shares::even(streams.len());
    in_shares(streams, |share, stream| {
        let mut planner = Planner::new(options.clone());
        let mut rows = 0;
        stream.visit(|record| {
            if shares.owner(record.content.referral_id()) == share {
                planner.push(record);
                rows += 1;
            }
        })?;
        Ok((planner, rows))
    })
}

/// Runs `plan` for each of `inputs` (given its share's number), each on a thread of its
/// own (the first on this one), finishes each share's plan on its thread, and merges
/// them; the first share's error, if any, is the answer. An input whose thread could not
/// start is dropped at once.
fn in_shares<T, F>(inputs: Vec<T>, plan: F) -> Result<Planned, InputError>
where
    T: Send,
    F: Fn(usize, T) -> Result<SharePlanner, InputError> + Sync,
{
    let of = inputs.len();
    let plan = &|index: usize, input: T| -> Result<SharePlan, InputError> {
        let (planner, rows) = plan(index, input)?;
        // Only a merge of several shares compares first lines.
        let (plan, first_lines) = match of {
            1 => (planner.finish(), Vec::new()),
            _ => planner.finish_with_first_lines(),
        };
        // Each share says when it is done (with -vv), for a look at how evenly they ran.
        let cpu_ms = crate::ui::cpu::thread_cpu_ms();
        tracing::debug!(share = index, of, rows, cpu_ms, "planned a share");
        Ok((plan, first_lines, rows))
    };
    let shares = std::thread::scope(|scope| {
        let mut inputs = inputs.into_iter().enumerate();
        let first = inputs.next();
        let others: Vec<_> = inputs
            .map(|(index, input)| {
                std::thread::Builder::new()
                    .name(format!("refsync-plan-{index}"))
                    .spawn_scoped(scope, move || plan(index, input))
            })
            .collect();
        let mut shares: Vec<_> = first
            .map(|(index, input)| plan(index, input))
            .into_iter()
            .collect();
        for other in others {
            shares.push(match other {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|_| Err(stopped("stopped unexpectedly".into()))),
                Err(error) => Err(stopped(format!("could not start: {error}"))),
            });
        }
        shares
    });
    let mut plans = Vec::with_capacity(of);
    let mut rows = 0;
    for share in shares {
        let (plan, first_lines, share_rows) = share?;
        plans.push((plan, first_lines));
        rows += share_rows;
    }
    Ok((merge(plans), rows))
}

/// The error of a planning thread that could not start or did not finish.
pub(super) fn stopped(why: String) -> InputError {
    InputError::Io {
        name: "inputs".into(),
        source: std::io::Error::other(format!("a planning thread {why}")),
    }
}

/// How referral IDs are dealt to planning threads: by a fixed hash of the ID, share 0
/// taking the hashes below `first` (of 2^32) and the others the rest in equal parts; rows
/// without an ID go to share 0.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shares {
    of: usize,
    first: u64,
}

/// The number of points a hash is taken to: 2^32.
const POINTS: u64 = 1 << 32;

impl Shares {
    /// `of` equal shares.
    fn even(of: usize) -> Self {
        Shares {
            of: of.max(1),
            first: POINTS / of.max(1) as u64,
        }
    }

    /// `of` shares, share 0's smaller by what its thread spends reading the inputs for all
    /// of them ([`READ_COST`]), so that every thread is busy about as long.
    fn with_reader(of: usize) -> Self {
        let of = of.max(1);
        Shares {
            of,
            first: (reader_part(of) * POINTS as f64) as u64,
        }
    }

    /// The number of shares.
    pub(super) fn of(self) -> usize {
        self.of
    }

    /// The share of `id`.
    pub(super) fn owner(self, id: &str) -> usize {
        if self.of == 1 || id.is_empty() {
            return 0;
        }
        // Fixed, so every thread puts an ID in the same share.
        let point = foldhash::fast::FixedState::default().hash_one(id) >> 32;
        if point < self.first {
            return 0;
        }
        let others = self.of as u64 - 1;
        // Two shares (two cores) need no division, which showed in the reading thread's
        // profile: it is asked of every row.
        if others == 1 {
            return 1;
        }
        1 + ((point - self.first) * others / (POINTS - self.first)) as usize
    }
}

/// The part of the IDs the reading thread of `of` plans: what leaves it as busy as each
/// of the others, none when reading alone keeps it busier.
fn reader_part(of: usize) -> f64 {
    let of = of.max(1) as f64;
    ((1.0 - READ_COST * (of - 1.0)) / of).clamp(0.0, 1.0)
}

/// The entries of the plans of disjoint shares, in the order of their first rows, as one
/// planner would have made them: each plan's entries are in that order already. Each
/// plan comes with its entries' first lines, which are all that is compared: reading
/// them from the entries themselves (each in memory of its own) took the single thread
/// that merges 7–8 ms of a million-row `plan`, the other one idle (`perf`).
fn merge(plans: Vec<(Plan, Vec<LineRef>)>) -> Plan {
    if plans.len() == 1 {
        return plans
            .into_iter()
            .next()
            .map(|(plan, _)| plan)
            .unwrap_or_default();
    }
    let total = plans.iter().map(|(plan, _)| plan.entries.len()).sum();
    // Each share's entries, their first lines, and how many of them have been taken.
    let mut shares: Vec<_> = plans
        .into_iter()
        .map(|(plan, first_lines)| (plan.entries.into_iter(), first_lines, 0))
        .collect();
    let mut entries = Vec::with_capacity(total);
    loop {
        // The share whose next entry starts first (the lower share on a tie).
        let mut earliest: Option<(LineRef, usize)> = None;
        for (index, (_, first_lines, taken)) in shares.iter().enumerate() {
            if let Some(&line) = first_lines.get(*taken)
                && earliest.is_none_or(|(first, _)| line < first)
            {
                earliest = Some((line, index));
            }
        }
        let Some((_, index)) = earliest else {
            return Plan { entries };
        };
        let (share_entries, _, taken) = &mut shares[index];
        *taken += 1;
        entries.extend(share_entries.next());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{open_inputs, read_records, read_with_parsers};
    use crate::plan::OnDuplicate;

    /// Rows of every kind: plain, quoted, over two lines, malformed, ID-less, duplicated,
    /// conflicting, invalid; IDs that recur far apart.
    const FIRST: &str = "id,op,path,value,if_match\r\n\
        a,replace,/name,one,\r\n\
        b,replace,/details/notes,\"two, quoted\",\r\n\
        ,replace,/name,no id,\r\n\
        c,replace,/details/notes,\"over\r\ntwo lines\",\r\n\
        a,replace,/name,one,\r\n\
        d,replace,/details/dealValue,12x,\r\n\
        b,add,/team/-,\"{\"\"email\"\":\"\"a@b.c\"\"}\",\r\n\
        e,replace,/name,x\"y,\r\n\
        a,replace,/name,other,\r\n\
        f,replace,/name,\"a\"b,\r\n\
        c,replace,/name,too,many,cells\r\n\
        g,remove,/name,,\r\n\
        b,replace,/name,b,\"1\"\r\n\
        b,replace,/details/notes,n,\"2\"\r\n\
        \r\n\
        h,replace,/status,Closed,\r\n";
    /// Rows the general path reads, each in the share of the ID it could still read: an
    /// ID that is not UTF-8, a value that is not, too many cells, blank cells, no ID.
    const THIRD: &[u8] = b"id,op,path,value\n\
        k,replace,/name,k\n\
        \xffk,replace,/name,bad id\n\
        k,replace,/name,\xff\n\
        l,replace,/name,one,two\n\
        \x20,\x20,\x20,\x20\n\
        ,replace,/name,no id\n\
        m,replace,/name,m\n";
    /// The ID in the last column, before a `\r`.
    const FOURTH: &str = "value,path,op,id\r\n\
        v,/name,replace,k\r\n\
        w,/name,replace,n\r\n\
        x,/name,replace,k\r\n";
    const SECOND: &str = "id,op,path,value\n\
        c,replace,/details/notes,later\n\
        i,replace,/name,i\n\
        a,replace,/details/notes,\"unclosed\n\
        j,replace,/name,j\n";

    /// Over a reader's buffer of rows, so some straddle two buffers: IDs recurring, some
    /// values quoted, some over two lines.
    fn long_input() -> String {
        let mut text = String::from("id,op,path,value\n");
        for row in 0..8_000 {
            let id = format!("{:08x}-0000-0000-0000-000000000000", row % 1_500);
            let value = match row % 7 {
                0 => format!("\"note, {row}\""),
                1 => format!("\"two\nlines {row}\""),
                _ => format!("note {}", row % 3),
            };
            text.push_str(&format!("{id},replace,/details/notes,{value}\n"));
        }
        text
    }

    fn inputs(dir: &std::path::Path) -> Vec<InputSource> {
        let mut names = Vec::new();
        let long = long_input();
        let files: [(&str, &[u8]); 5] = [
            ("first.csv", FIRST.as_bytes()),
            ("second.csv", SECOND.as_bytes()),
            ("long.csv", long.as_bytes()),
            ("third.csv", THIRD),
            ("fourth.csv", FOURTH.as_bytes()),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            names.push(path.display().to_string());
        }
        open_inputs(&names, &ReadOptions::default()).unwrap()
    }

    /// The plan one planner makes of records read one after another on this thread.
    fn planned_in_turn(sources: &[InputSource], options: &PlanOptions) -> Planned {
        let read = ReadOptions::default();
        let mut planner = Planner::new(options.clone());
        let mut rows = 0;
        for (index, source) in sources.iter().enumerate() {
            for record in read_records(source, index as u32, &read).unwrap() {
                planner.push(&record.unwrap());
                rows += 1;
            }
        }
        (planner.finish(), rows)
    }

    /// JSONL rows of every kind: documents, rows, ID-less, duplicated, conflicting,
    /// malformed, blank lines, ETags that disagree; IDs shared with the CSV inputs.
    fn jsonl_input() -> String {
        let mut text = String::from(
            "{\"id\":\"a\",\"op\":\"replace\",\"path\":\"/name\",\"value\":\"one\"}\n\
             \n\
             {\"id\":\"b\",\"if_match\":\"1\",\"patch\":[{\"op\":\"replace\",\"path\":\"/name\",\"value\":\"b\"}]}\n\
             {\"op\":\"replace\",\"path\":\"/name\",\"value\":\"no id\"}\n\
             {\"id\":\"c\", broken\n\
             [1, 2]\n\
             {\"id\":\"a\",\"op\":\"replace\",\"path\":\"/name\",\"value\":\"two\"}\n\
             {\"id\":\"b\",\"if_match\":\"3\",\"op\":\"replace\",\"path\":\"/details/dealValue\",\"value\":5}\n",
        );
        for row in 0..5_000 {
            let id = format!("{:08x}-0000-0000-0000-000000000000", row % 900);
            let value = row % 4;
            text.push_str(&format!(
                "{{\"id\":\"{id}\",\"op\":\"replace\",\"path\":\"/details/notes\",\"value\":\"n{value}\"}}\n"
            ));
        }
        text
    }

    /// Checks that `plan_on` (given the sources, a number of threads and the options)
    /// plans `sources` as one planner does, on every number of threads up to `most`.
    fn same_plan_on_any_number_of_threads(
        sources: &[InputSource],
        most: usize,
        plan_on: impl Fn(&[InputSource], usize, &PlanOptions) -> Planned,
    ) {
        for on_duplicate in [OnDuplicate::Error, OnDuplicate::LastWins] {
            let options = PlanOptions {
                on_duplicate,
                ..PlanOptions::default()
            };
            let (want, want_rows) = planned_in_turn(sources, &options);
            for threads in 1..=most {
                let (plan, rows) = plan_on(sources, threads, &options);
                assert_eq!(rows, want_rows, "{threads} threads");
                assert_eq!(plan, want, "{threads} threads");
            }
        }
    }

    /// Checks that `plan` of the test inputs, the second of them gone, fails with its error.
    fn stops_with_the_error_of_a_gone_input(
        plan: impl Fn(Vec<InputSource>) -> Result<Planned, InputError>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = inputs(dir.path());
        sources[1].path = dir.path().join("gone.csv");
        let planned = plan(sources);
        assert!(
            matches!(planned, Err(InputError::Io { name, .. }) if name.ends_with("second.csv"))
        );
    }

    #[test]
    fn records_parsed_once_plan_the_same_on_any_number_of_threads() {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = inputs(dir.path());
        let path = dir.path().join("rows.jsonl");
        std::fs::write(&path, jsonl_input()).unwrap();
        let read = ReadOptions::default();
        let names = [path.display().to_string()];
        sources.insert(1, open_inputs(&names, &read).unwrap().remove(0));
        same_plan_on_any_number_of_threads(&sources, MOST_THREADS, |sources, threads, options| {
            let streams = read_with_parsers(sources.to_vec(), read.clone(), threads, 2).unwrap();
            plan_streams(streams, options).unwrap()
        });
    }

    #[test]
    fn an_input_that_cannot_be_read_stops_every_stream_with_its_error() {
        stops_with_the_error_of_a_gone_input(|sources| {
            let streams = read_with_parsers(sources, ReadOptions::default(), 3, 2)?;
            plan_streams(streams, &PlanOptions::default())
        });
    }

    #[test]
    fn the_plan_is_the_same_on_any_number_of_threads() {
        let dir = tempfile::tempdir().unwrap();
        let sources = inputs(dir.path());
        let (_, rows) = planned_in_turn(&sources, &PlanOptions::default());
        assert_eq!(rows, 19 + 8_000 + 7 + 3);
        let read = ReadOptions::default();
        same_plan_on_any_number_of_threads(
            &sources,
            MOST_THREADS + 1,
            |sources, threads, options| plan_inputs(sources, &read, options, threads).unwrap(),
        );
    }

    /// Blocks of a few lines or fewer: records over two blocks, parts that start inside
    /// a quoted field (whose blocks after are dropped), parts with no line at all.
    #[test]
    fn the_plan_is_the_same_whatever_the_blocks_and_parts_it_is_read_in() {
        let dir = tempfile::tempdir().unwrap();
        let sources = inputs(dir.path());
        let read = ReadOptions::default();
        for block_bytes in [1, 29, 97, 300, 4096] {
            same_plan_on_any_number_of_threads(&sources, 3, |sources, threads, options| {
                plan_inputs_in_blocks(sources, &read, options, threads, block_bytes).unwrap()
            });
        }
    }

    #[test]
    fn an_input_that_cannot_be_read_stops_every_thread_with_its_error() {
        stops_with_the_error_of_a_gone_input(|sources| {
            plan_inputs(
                &sources,
                &ReadOptions::default(),
                &PlanOptions::default(),
                2,
            )
        });
    }

    #[test]
    fn every_id_falls_in_a_share_and_rows_without_one_in_the_first() {
        for of in 1..=MOST_THREADS {
            for shares in [Shares::even(of), Shares::with_reader(of)] {
                for id in ["a", "b", "00000000-0000-0000-0000-000000000001", "é"] {
                    assert!(shares.owner(id) < of, "{id:?} of {of}");
                }
                assert_eq!(shares.owner(""), 0);
            }
        }
    }

    /// How many of 40,000 GUID-like IDs fall in each share.
    fn counts(shares: Shares) -> Vec<usize> {
        let mut counts = vec![0; shares.of];
        for n in 0..40_000 {
            counts[shares.owner(&format!("{n:08x}-0000-4000-8000-{n:012x}"))] += 1;
        }
        counts
    }

    #[test]
    fn even_shares_are_even_and_the_readers_share_is_smaller() {
        let near = |count: usize, part: f64| (count as f64 / 40_000.0 - part).abs() < 0.02;
        for of in 1..=MOST_THREADS {
            let even = counts(Shares::even(of));
            assert!(even.iter().all(|&c| near(c, 1.0 / of as f64)), "{even:?}");
            let reader = counts(Shares::with_reader(of));
            let part = reader_part(of);
            assert!(near(reader[0], part), "{reader:?}");
            let rest = (1.0 - part) / (of - 1).max(1) as f64;
            assert!(reader[1..].iter().all(|&c| near(c, rest)), "{reader:?}");
        }
    }
}
