//! Plain CSV planned on several threads that each scan a part of every block of lines
//! (see `input::blocks`): the reading thread reads a block and hands it out, every
//! thread scans one part of it and sends each other thread where that one's lines lie,
//! and each thread plans the lines of its own share of the IDs, block by block, part by
//! part, in input order. No line is copied from one thread to another.
//!
//! Before, the reading thread found every line's cells itself and copied out the lines
//! of the other threads' shares: that scan was a fifth of a million-row `plan`'s CPU
//! time, all of it on the one thread that set the pace.
//!
//! A thread scans a block as soon as it has it and plans a block once every part of it
//! has been scanned, so each thread scans the next block before it plans the last and
//! the threads seldom wait for each other. A record that is not a plain line (a quoted
//! field over two lines, a malformed line) is read by the general path where the scan
//! meets it. A part after the first starts after a line feed, which is a line's start
//! unless a quoted field runs over it: the scan of the part before then ends past the
//! next part's start, every thread plans the block only up to there, and the blocks after
//! it are dropped; so is the rest of a block whose last record does not end in it. The
//! reading thread reads on from there by the general path, then with new blocks.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvError, SyncSender, TryRecvError, sync_channel};
use std::time::{Duration, Instant};

use super::parallel::{SharePlanner, Shares, stopped};
use super::{PlanOptions, Planner};
use crate::input::{
    BlockReader, Found, InputError, InputRecord, InputSource, LineBlock, PartScanned, ReadOptions,
    Records, read_records,
};

/// The bytes read into each block: larger blocks mean fewer meetings of the threads that
/// scan them, smaller ones less memory in flight and a block's lines nearer in cache (on
/// the benchmark's million-row CSV, 256 KiB and 1 MiB were slower, side by side).
pub(super) const BLOCK_BYTES: usize = 512 * 1024;

/// Blocks the reading thread hands out before it has planned the first of them: one
/// being planned, one being scanned, one read ahead.
const BLOCKS_AHEAD: usize = 3;

/// Messages that may wait for a planning thread.
const INBOX: usize = 1024;

/// How long a thread with nothing to do spins before it sleeps: the other threads' parts
/// come within microseconds, and waking a sleeping thread can take longer than that.
const SPIN: Duration = Duration::from_micros(50);

/// A block handed out: its number, its lines, and where each thread's part starts.
#[derive(Debug)]
struct Handed {
    seq: u64,
    block: LineBlock,
    bounds: Vec<usize>,
}

impl Handed {
    /// The part scanned by the thread of share `share`.
    fn part(&self, share: usize) -> Range<usize> {
        let start = self.bounds.get(share).copied().unwrap_or(self.block.len());
        let end = self.bounds.get(share + 1).copied().unwrap_or(start);
        start..end
    }
}

/// What a planning thread is sent, in order from each sender.
enum Message {
    /// From the reading thread: a block to scan a part of and plan.
    Block(Arc<Handed>),
    /// From another thread: the lines of this thread's share in its part of a block.
    Lines(PartLines),
    /// From the reading thread: a record read whole, to plan after every block before it.
    Record(Box<InputRecord>),
    /// From the reading thread: the blocks handed out after one that was planned only up
    /// to a line the general path reads are dropped, up to here.
    Resume,
    /// From the reading thread: nothing more comes.
    End,
}

/// One part's lines of one share.
struct PartLines {
    seq: u64,
    part: usize,
    scanned: PartScanned,
    lines: Vec<Found>,
}

/// Where the reading thread goes on by the general path after planning blocks: the
/// offset and line of the record it reads next.
#[derive(Clone, Copy, Debug)]
struct ReadOn {
    offset: u64,
    line: u64,
}

/// A thread's work, in input order.
enum Item {
    /// A block, with what is known of each part: how far its scan got and this share's
    /// lines in it.
    Block {
        handed: Arc<Handed>,
        parts: Vec<Option<(PartScanned, Vec<Found>)>>,
    },
    Record(Box<InputRecord>),
    Resume,
}

/// Each other thread's inbox, by share (`None` for this one's).
type Peers = Vec<Option<SyncSender<Message>>>;

/// One planning thread's share: its planner, its work queue, and its ends to the others.
struct ShareWork {
    share: usize,
    shares: Shares,
    planner: Planner,
    rows: usize,
    peers: Peers,
    items: VecDeque<Item>,
    /// The line the next block starts on, unless it says.
    next_line: u64,
    /// Whether blocks are being dropped until a [`Message::Resume`].
    dropping: bool,
    /// The number of the last block taken.
    latest: u64,
    /// Lines of blocks not yet taken: another thread may scan a block before the reading
    /// thread's message of it reaches this one.
    early: Vec<PartLines>,
    scratch: String,
}

impl ShareWork {
    fn new(share: usize, shares: Shares, peers: Peers, options: &PlanOptions) -> Self {
        ShareWork {
            share,
            shares,
            planner: Planner::new(options.clone()),
            rows: 0,
            peers,
            items: VecDeque::new(),
            next_line: 0,
            dropping: false,
            latest: 0,
            early: Vec::new(),
            scratch: String::new(),
        }
    }

    /// Scans this thread's part of `handed`, sends each other thread its lines, and
    /// queues the block.
    fn take_block(&mut self, handed: Arc<Handed>) {
        let part = handed.part(self.share);
        // Room for every share's lines at once: growing the lists, copying each as it
        // doubled, cost more than the room. Lines are seldom under 32 bytes.
        let room = part.len() / 32 / self.shares.of() + 16;
        let mut lines: Vec<_> = (0..self.shares.of())
            .map(|_| Vec::with_capacity(room))
            .collect();
        let shares = self.shares;
        let block = &handed.block;
        let scanned = block.scan(part, |found| {
            if let Some(list) = lines.get_mut(shares.owner(&block.id(&found))) {
                list.push(found);
            }
        });
        let mut parts: Vec<_> = (0..self.shares.of()).map(|_| None).collect();
        for (share, lines) in lines.into_iter().enumerate() {
            match self.peers.get(share).and_then(Option::as_ref) {
                // A thread that is gone has failed, which its own result says.
                Some(peer) => {
                    let _ = peer.send(Message::Lines(PartLines {
                        seq: handed.seq,
                        part: self.share,
                        scanned,
                        lines,
                    }));
                }
                None => {
                    if let Some(own) = parts.get_mut(self.share) {
                        *own = Some((scanned, lines));
                    }
                }
            }
        }
        self.latest = handed.seq;
        self.items.push_back(Item::Block { handed, parts });
        let (ready, early) = std::mem::take(&mut self.early)
            .into_iter()
            .partition(|lines| lines.seq <= self.latest);
        self.early = early;
        for lines in ready {
            self.take_lines(lines);
        }
    }

    /// Files another thread's lines with their block (those of a dropped block go).
    fn take_lines(&mut self, lines: PartLines) {
        if lines.seq > self.latest {
            self.early.push(lines);
            return;
        }
        for item in self.items.iter_mut().rev() {
            if let Item::Block { handed, parts } = item
                && handed.seq == lines.seq
            {
                if let Some(part) = parts.get_mut(lines.part) {
                    *part = Some((lines.scanned, lines.lines));
                }
                return;
            }
        }
    }

    /// Plans the work at the head of the queue while it is ready; where the general path
    /// reads on, when a block was planned only up to a line it must read.
    fn plan_ready(&mut self) -> Option<ReadOn> {
        while let Some(item) = self.items.front() {
            match item {
                Item::Block { .. } if self.dropping => {}
                Item::Block { parts, .. } if parts.iter().any(Option::is_none) => return None,
                Item::Block { .. } => {
                    if let Some(Item::Block { handed, parts }) = self.items.pop_front() {
                        let read_on = self.plan_block(&handed, parts);
                        if read_on.is_some() {
                            self.dropping = true;
                            return read_on;
                        }
                    }
                    continue;
                }
                Item::Record(record) => {
                    self.planner.push(record);
                    self.rows += 1;
                }
                Item::Resume => self.dropping = false,
            }
            self.items.pop_front();
        }
        None
    }

    /// Plans this share's lines of a block from its parts that start where the part
    /// before ended; where the general path reads on when that is short of its end.
    fn plan_block(
        &mut self,
        handed: &Handed,
        parts: Vec<Option<(PartScanned, Vec<Found>)>>,
    ) -> Option<ReadOn> {
        let block = &handed.block;
        let mut line = block.first_line().unwrap_or(self.next_line);
        let mut end = 0;
        for ((scanned, lines), &start) in parts.into_iter().flatten().zip(&handed.bounds) {
            if end != start {
                break;
            }
            self.rows += lines.len();
            for found in lines {
                match found {
                    Found::Line(found) => {
                        let row = block.row(&found, line);
                        self.planner
                            .push_cells(row, block.cells(&found, &mut self.scratch));
                    }
                    Found::Record(found, read) => {
                        self.planner.push(&block.record(&found, read, line));
                    }
                }
            }
            line += u64::from(scanned.lines);
            end = scanned.end;
        }
        self.next_line = line;
        (end != block.len()).then(|| ReadOn {
            offset: block.offset() + end as u64,
            line,
        })
    }
}

/// The next message of `inbox`, spun for a while before sleeping.
fn next_message<T>(inbox: &Receiver<T>) -> Result<T, RecvError> {
    let started = Instant::now();
    loop {
        match inbox.try_recv() {
            Ok(message) => return Ok(message),
            Err(TryRecvError::Disconnected) => return Err(RecvError),
            Err(TryRecvError::Empty) if started.elapsed() < SPIN => {
                for _ in 0..32 {
                    std::hint::spin_loop();
                }
            }
            Err(TryRecvError::Empty) => return inbox.recv(),
        }
    }
}

/// Each planning thread's inbox and every thread's ends to the others': `of` threads,
/// the reading one first.
fn inboxes(of: usize) -> Vec<(Receiver<Message>, Peers)> {
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..of).map(|_| sync_channel(INBOX)).unzip();
    receivers
        .into_iter()
        .enumerate()
        .map(|(own, inbox)| {
            let peers = (0..of)
                .map(|share| {
                    (share != own)
                        .then(|| senders.get(share).cloned())
                        .flatten()
                })
                .collect();
            (inbox, peers)
        })
        .collect()
}

/// What a planning thread of [`plan_role`] is given.
pub(super) struct Role {
    inbox: Receiver<Message>,
    work: ShareWork,
}

/// The roles of `of` planning threads, the reading one first.
pub(super) fn roles(of: usize, shares: Shares, options: &PlanOptions) -> Vec<Role> {
    inboxes(of)
        .into_iter()
        .enumerate()
        .map(|(share, (inbox, peers))| Role {
            inbox,
            work: ShareWork::new(share, shares, peers, options),
        })
        .collect()
}

/// Runs role `share`: the reading thread's (share 0) reads `sources` in blocks of about
/// `block_bytes`; the others plan what they are sent until the reading thread is done.
pub(super) fn plan_role(
    share: usize,
    role: Role,
    sources: &[InputSource],
    read: &ReadOptions,
    block_bytes: usize,
) -> Result<SharePlanner, InputError> {
    match share {
        0 => Reader::new(role, block_bytes).read(sources, read),
        _ => Ok(plan_sent(role)),
    }
}

/// A planning thread other than the reading one: takes its messages and plans what is
/// ready, until the reading thread is done and every block is planned.
fn plan_sent(Role { inbox, mut work }: Role) -> SharePlanner {
    let mut ended = false;
    while !(ended && work.items.is_empty()) {
        let Ok(message) = next_message(&inbox) else {
            break;
        };
        match message {
            Message::Block(handed) => work.take_block(handed),
            Message::Lines(lines) => work.take_lines(lines),
            Message::Record(record) => work.items.push_back(Item::Record(record)),
            Message::Resume => work.items.push_back(Item::Resume),
            Message::End => ended = true,
        }
        work.plan_ready();
    }
    (work.planner, work.rows)
}

/// The reading thread: reads every input, hands out blocks and records, and plans
/// share 0.
struct Reader {
    inbox: Receiver<Message>,
    work: ShareWork,
    /// The number of the last block handed out.
    seq: u64,
    /// Blocks handed out earlier, read into again once no thread holds them.
    spares: Vec<Arc<Handed>>,
    block_bytes: usize,
}

impl Reader {
    fn new(Role { inbox, work }: Role, block_bytes: usize) -> Self {
        Reader {
            inbox,
            work,
            seq: 0,
            spares: Vec::new(),
            block_bytes,
        }
    }

    /// Reads and plans every input, then tells the other threads that nothing more comes.
    fn read(
        mut self,
        sources: &[InputSource],
        read: &ReadOptions,
    ) -> Result<SharePlanner, InputError> {
        let read = sources
            .iter()
            .enumerate()
            .try_for_each(|(index, source)| self.read_input(source, index as u32, read));
        self.send_all(|| Message::End);
        read?;
        Ok((self.work.planner, self.work.rows))
    }

    /// Reads one input: a CSV one in blocks wherever its lines are plain, anything else
    /// record by record.
    fn read_input(
        &mut self,
        source: &InputSource,
        index: u32,
        read: &ReadOptions,
    ) -> Result<(), InputError> {
        let mut csv = match read_records(source, index, read)? {
            Records::Csv(csv) => csv,
            others => {
                for record in others {
                    self.route(record?);
                }
                return Ok(());
            }
        };
        loop {
            if let Some(blocks) = csv.blocks_from_here(source, self.block_bytes) {
                let blocks = blocks.map_err(|error| in_input(source, error))?;
                let read_on = self.read_blocks(blocks, source)?;
                csv.seek_to(read_on.offset, read_on.line)
                    .map_err(|error| in_input(source, error))?;
            }
            match csv.next() {
                Some(record) => self.route(record?),
                None => return Ok(()),
            }
        }
    }

    /// Reads blocks from `reader` and plans them with the other threads, until the input
    /// ends or has a line only the general path reads; where that path reads on. Every
    /// block handed out is planned or dropped by then.
    fn read_blocks(
        &mut self,
        mut reader: BlockReader,
        source: &InputSource,
    ) -> Result<ReadOn, InputError> {
        let mut reading = true;
        loop {
            while reading && self.work.items.len() < BLOCKS_AHEAD {
                let mut block = self.spare_block();
                if !reader
                    .next_block(&mut block)
                    .map_err(|error| in_input(source, error))?
                {
                    reading = false;
                    break;
                }
                self.seq += 1;
                let bounds = block.split(self.work.shares.of());
                let handed = Arc::new(Handed {
                    seq: self.seq,
                    block,
                    bounds,
                });
                self.send_all(|| Message::Block(Arc::clone(&handed)));
                if self.spares.len() < BLOCKS_AHEAD + 2 {
                    self.spares.push(Arc::clone(&handed));
                }
                self.work.take_block(handed);
            }
            if let Some(read_on) = self.work.plan_ready() {
                // Every block after this one is dropped, here and by the others.
                tracing::trace!(
                    offset = read_on.offset,
                    line = read_on.line,
                    dropped = self.work.items.len(),
                    "blocks dropped: the general path reads on"
                );
                self.work.items.clear();
                self.work.dropping = false;
                self.send_all(|| Message::Resume);
                return Ok(read_on);
            }
            if self.work.items.is_empty() && !reading {
                return Ok(ReadOn {
                    offset: reader.offset(),
                    line: reader.unread_line().unwrap_or(self.work.next_line),
                });
            }
            if reading && self.work.items.len() < BLOCKS_AHEAD {
                continue;
            }
            match next_message(&self.inbox) {
                Ok(Message::Lines(lines)) => self.work.take_lines(lines),
                Ok(_) => {}
                Err(RecvError) => return Err(stopped("stopped unexpectedly".into())),
            }
        }
    }

    /// A block to read into: one no other thread holds any more, or a new one.
    fn spare_block(&mut self) -> LineBlock {
        let free = self
            .spares
            .iter()
            .position(|handed| Arc::strong_count(handed) == 1);
        free.and_then(|at| Arc::into_inner(self.spares.swap_remove(at)))
            .map_or_else(LineBlock::default, |handed| handed.block)
    }

    /// Plans `record` (every block before it is planned) or hands it to its share's
    /// thread.
    fn route(&mut self, record: InputRecord) {
        match self.work.shares.owner(record.content.referral_id()) {
            0 => {
                self.work.planner.push(&record);
                self.work.rows += 1;
            }
            share => {
                if let Some(Some(peer)) = self.work.peers.get(share) {
                    // A thread that is gone has failed, which its own result says.
                    let _ = peer.send(Message::Record(Box::new(record)));
                }
            }
        }
    }

    /// Sends every other thread a message made by `message`.
    fn send_all(&self, message: impl Fn() -> Message) {
        for peer in self.work.peers.iter().flatten() {
            let _ = peer.send(message());
        }
    }
}

/// An I/O error reading `source`.
fn in_input(source: &InputSource, error: std::io::Error) -> InputError {
    InputError::Io {
        name: source.name.clone(),
        source: error,
    }
}
