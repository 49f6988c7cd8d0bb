//! Per-worker scanning: [`Scanner`] (scratch, counters, a reused hit buffer) and
//! [`StreamState`] (one Hyperscan stream per flow direction).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use hyperscan::{Matching, Scratch, Stream};

use crate::{Direction, Error, Inner, PatternDef, PatternSet, Ports, DEFAULT_STREAM_DEPTH};
use crate::{MAX_FIRED_PER_STREAM, MAX_PATTERNS};

/// Hyperscan takes a 32-bit length: longer inputs are fed in pieces of this size.
const MAX_SCAN_CALL: usize = 1 << 30;

/// Scanner settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScannerConfig {
    /// Bytes of each stream direction that are scanned; past it scanning stops, the
    /// Hyperscan stream is freed and [`ScanStats::streams_past_depth`] moves.
    pub stream_depth: u64,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig {
            stream_depth: DEFAULT_STREAM_DEPTH,
        }
    }
}

/// Counters of one [`Scanner`] (plain integers: a scanner belongs to one worker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Bytes handed to Hyperscan (streams and blocks).
    pub bytes_scanned: u64,
    /// Hyperscan streams opened.
    pub streams_opened: u64,
    /// Hyperscan streams closed by [`Scanner::close`] or at the depth limit.
    pub streams_closed: u64,
    /// Streams that reached [`ScannerConfig::stream_depth`].
    pub streams_past_depth: u64,
    /// Bytes not scanned because their stream was past the depth limit.
    pub bytes_past_depth: u64,
    /// Hits delivered to callbacks.
    pub hits: u64,
    /// Matches dropped by a pattern's scope (direction, ports, depth).
    pub hits_out_of_scope: u64,
    /// Matches dropped because the pattern already fired in this stream.
    pub hits_repeated: u64,
    /// Hyperscan runtime errors (the stream concerned is closed and no longer scanned).
    pub scan_errors: u64,
    /// Streams moved to this scanner's set after being opened under another one.
    pub set_changes: u64,
    /// Of those, streams whose Hyperscan stream on the previous set went on scanning beside
    /// the new one (see [`Scanner::switch_set`]), so that a match straddling the reload point
    /// of a pattern kept by the reload is still found.
    pub streams_carried: u64,
}

/// One match, borrowed from the [`PatternSet`].
#[derive(Clone, Copy, Debug)]
pub struct Hit<'a> {
    /// Index of the pattern in its set ([`PatternSet::get`]).
    pub pattern_id: u32,
    /// The user's id (`id=`; 0 for plain lists).
    pub id: u32,
    /// The pattern's name.
    pub name: &'a str,
    /// Offset just past the last matched byte, from the start of the stream direction (of the
    /// datagram in block mode). The start is not reported (no `SOM_LEFTMOST`).
    pub offset_end: u64,
    /// Direction of the matched bytes.
    pub direction: Direction,
    /// The whole entry (severity, ATT&CK tags, reference).
    pub pattern: &'a PatternDef,
}

/// A Hyperscan stream with the set it was opened on. Dropping it while open closes it through
/// the set's fallback scratch, so stream state cannot leak whatever the caller does.
struct OpenStream {
    stream: Option<Stream>,
    set: Arc<Inner>,
    /// Stream offset at which this Hyperscan stream started (non-zero after a set change).
    base: u64,
}

impl OpenStream {
    /// Closes the Hyperscan stream; end-of-stream matches go to `on_match` when `scratch` is
    /// this set's scanner scratch, and are discarded on the fallback path.
    fn close(&mut self, scratch: Option<&Scratch>, on_match: &mut dyn FnMut(u32, u64)) -> bool {
        let Some(stream) = self.stream.take() else {
            return true;
        };
        self.set.open_streams.fetch_sub(1, Ordering::Relaxed);
        match scratch {
            Some(s) => stream
                .close(s, |id, _from, to, _flags| {
                    on_match(id, to);
                    Matching::Continue
                })
                .is_ok(),
            None => {
                let guard = self
                    .set
                    .drop_scratch
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match guard.as_ref() {
                    Some(s) => stream.close(s, ()).is_ok(),
                    // No fallback scratch means no streaming database, so no stream was opened.
                    None => false,
                }
            }
        }
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        if self.stream.is_some() {
            self.set.dropped_open.fetch_add(1, Ordering::Relaxed);
            self.close(None, &mut |_, _| {});
        }
    }
}

/// Scan state of one flow direction. Create it empty; the Hyperscan stream opens on the first
/// bytes given to [`Scanner::scan_stream`]. Finish it with [`Scanner::close`].
#[derive(Default)]
pub struct StreamState {
    hs: Option<OpenStream>,
    /// Bytes of this direction seen so far (scanned or not).
    offset: u64,
    /// Past the depth limit, or a Hyperscan error: nothing more is scanned.
    done: bool,
    dir: Option<Direction>,
    ports: Ports,
    /// The stream on the scanner's previous set, still scanned after a reload (see
    /// [`Scanner::switch_set`]); its hits are reported under the current set's indices.
    prev: Option<OpenStream>,
    /// Sorted pattern indices that already fired in the current set (at most
    /// [`MAX_FIRED_PER_STREAM`]); empty, and so unallocated, for the many streams that never
    /// match. Hyperscan's single-match flag already gives once-per-stream; this keeps the
    /// guarantee independent of compile flags.
    fired: Vec<u32>,
}

impl std::fmt::Debug for StreamState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamState")
            .field("open", &self.is_open())
            .field("offset", &self.offset)
            .field("done", &self.done)
            .finish()
    }
}

impl StreamState {
    /// An empty state (no Hyperscan stream yet).
    pub fn new() -> StreamState {
        StreamState::default()
    }

    /// Whether a Hyperscan stream is open.
    pub fn is_open(&self) -> bool {
        self.hs.as_ref().is_some_and(|h| h.stream.is_some())
    }

    /// Whether the stream of the previous pattern set is still scanned beside the current one
    /// (after [`Scanner::switch_set`]).
    pub fn is_carried(&self) -> bool {
        self.prev.as_ref().is_some_and(|h| h.stream.is_some())
    }

    /// Bytes of this direction given so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether scanning stopped (depth limit reached or Hyperscan error).
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// Per-worker scanner: owns the Hyperscan scratch; not shared between threads.
pub struct Scanner {
    set: PatternSet,
    scratch: Option<Scratch>,
    cfg: ScannerConfig,
    stats: ScanStats,
    /// Matches of the current Hyperscan call, delivered after it returns (so callbacks run
    /// outside Hyperscan and may do anything, including panic). Capacity is reserved up front;
    /// with single-match there are at most as many matches per call as patterns.
    pending: Vec<(u32, u64)>,
    /// The set before the last [`Self::switch_set`], for the streams opened under it.
    prev: Option<PrevSet>,
}

/// The set a scanner was switched away from: its scratch, and where each of its patterns went.
struct PrevSet {
    set: PatternSet,
    scratch: Scratch,
    /// Index in the old set -> index of the same pattern (same matcher and scope) in the new
    /// set; [`NOT_KEPT`] for a pattern the reload removed or changed.
    carry: Box<[u32]>,
}

const NOT_KEPT: u32 = u32::MAX;

impl PrevSet {
    fn carry(&self, old: u32) -> Option<u32> {
        usize::try_from(old)
            .ok()
            .and_then(|i| self.carry.get(i))
            .copied()
            .filter(|&n| n != NOT_KEPT)
    }

    fn holds(&self, stream: &OpenStream) -> bool {
        Arc::ptr_eq(&stream.set, &self.set.inner)
    }

    /// Patterns that fired, under their new indices (so a kept pattern does not fire again).
    fn carry_fired(&self, fired: &[u32]) -> Vec<u32> {
        let mut out: Vec<u32> = fired.iter().filter_map(|&i| self.carry(i)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Where each pattern of `old` is in `new`: the same matcher and scope (name, severity and
/// the rest may change). Duplicates pair up in order.
fn carry_map(old: &PatternSet, new: &PatternSet) -> Box<[u32]> {
    use std::collections::HashMap;
    let mut by_key: HashMap<(&crate::Matcher, &crate::Scope), Vec<u32>> = HashMap::new();
    for (i, d) in new.inner.defs.iter().enumerate().rev() {
        if let Ok(i) = u32::try_from(i) {
            by_key.entry((&d.matcher, &d.scope)).or_default().push(i);
        }
    }
    old.inner
        .defs
        .iter()
        .map(|d| {
            by_key
                .get_mut(&(&d.matcher, &d.scope))
                .and_then(Vec::pop)
                .unwrap_or(NOT_KEPT)
        })
        .collect()
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("set", &self.set)
            .field("cfg", &self.cfg)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Scanner {
    /// A scanner with the default configuration.
    pub fn new(set: &PatternSet) -> Result<Scanner, Error> {
        Scanner::with_config(set, ScannerConfig::default())
    }

    /// A scanner with `cfg`; allocates scratch for both of the set's databases.
    pub fn with_config(set: &PatternSet, cfg: ScannerConfig) -> Result<Scanner, Error> {
        let hs = |e: hyperscan::Error| Error::Hyperscan(e.to_string());
        let inner = &set.inner;
        let mut scratch = match &inner.stream_db {
            Some(db) => Some(db.alloc_scratch().map_err(hs)?),
            None => None,
        };
        if let Some(db) = &inner.block_db {
            match scratch.as_mut() {
                Some(s) => {
                    db.realloc_scratch(s).map_err(hs)?;
                }
                None => scratch = Some(db.alloc_scratch().map_err(hs)?),
            }
        }
        Ok(Scanner {
            set: set.clone(),
            scratch,
            cfg,
            stats: ScanStats::default(),
            pending: Vec::with_capacity(inner.defs.len().min(MAX_PATTERNS)),
            prev: None,
        })
    }

    /// Moves this scanner to `set` (a pattern reload), keeping its configuration and counters.
    /// Scratch for the new databases is allocated first, so on error the scanner keeps the old
    /// set. A stream opened under the old set moves to the new one at its next bytes
    /// ([`Self::scan_stream`], counted in [`ScanStats::set_changes`]): a new Hyperscan stream
    /// starts there, and the old one goes on scanning beside it until the stream ends or
    /// reaches the depth limit ([`ScanStats::streams_carried`]), reporting only the patterns
    /// the reload kept (same matcher and scope). So a kept pattern whose match straddles the
    /// reload point is found, and one that fired before the reload does not fire again. A
    /// pattern the reload added matches from that point on; a removed one no longer reports.
    /// Only the last switch is carried: a stream still on the set before it is closed.
    ///
    /// Cost: streams open at a reload are scanned twice, at most up to the depth limit, and
    /// hold two Hyperscan stream states meanwhile.
    ///
    /// # Errors
    /// Hyperscan could not allocate scratch for the new set.
    pub fn switch_set(&mut self, set: &PatternSet) -> Result<(), Error> {
        if self.set.same_as(set) {
            return Ok(());
        }
        let mut fresh = Scanner::with_config(set, self.cfg)?;
        fresh.stats = self.stats;
        let old = std::mem::replace(self, fresh);
        if let (Some(scratch), true) = (old.scratch, old.set.inner.stream_db.is_some()) {
            self.prev = Some(PrevSet {
                carry: carry_map(&old.set, set),
                set: old.set,
                scratch,
            });
        }
        Ok(())
    }

    /// The set this scanner matches.
    pub fn set(&self) -> &PatternSet {
        &self.set
    }

    /// Counters since creation.
    pub fn stats(&self) -> ScanStats {
        self.stats
    }

    /// Scans the next in-order bytes of one flow direction (TCP reassembled payload). A
    /// pattern split across calls is found; each pattern is reported at most once per
    /// `state`. `dir` and `ports` describe these bytes (see [`Ports`]); they should not change
    /// over a stream's life.
    pub fn scan_stream<F>(
        &mut self,
        state: &mut StreamState,
        data: &[u8],
        dir: Direction,
        ports: Ports,
        mut on_hit: F,
    ) where
        F: FnMut(&Hit<'_>),
    {
        if data.is_empty() {
            return;
        }
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        if state.done {
            self.stats.bytes_past_depth = self.stats.bytes_past_depth.saturating_add(len);
            state.offset = state.offset.saturating_add(len);
            return;
        }
        let room = self.cfg.stream_depth.saturating_sub(state.offset);
        let take = usize::try_from(room.min(len)).unwrap_or(data.len());
        let (now, beyond) = data.split_at(take.min(data.len()));
        if self.set.inner.stream_db.is_none() {
            // No TCP pattern: only keep the depth accounting consistent.
            state.offset = state.offset.saturating_add(len);
            return;
        }
        if self.scratch.is_none() {
            return;
        }
        if state.dir.is_none() {
            state.dir = Some(dir);
            state.ports = ports;
        }

        // Open lazily; after a pattern reload, move the stream to this scanner's set (Hyperscan
        // state and scratch are tied to one database).
        let same_set = state
            .hs
            .as_ref()
            .is_some_and(|h| Arc::ptr_eq(&h.set, &self.set.inner));
        if !now.is_empty() && !same_set {
            if let Some(old) = state.hs.take() {
                self.move_to_current_set(state, old);
            }
            let Some(db) = self.set.inner.stream_db.as_ref() else {
                return;
            };
            match db.open_stream() {
                Ok(s) => {
                    self.set.inner.open_streams.fetch_add(1, Ordering::Relaxed);
                    self.stats.streams_opened = self.stats.streams_opened.saturating_add(1);
                    state.hs = Some(OpenStream {
                        stream: Some(s),
                        set: self.set.inner.clone(),
                        base: state.offset,
                    });
                }
                Err(_) => {
                    self.stats.scan_errors = self.stats.scan_errors.saturating_add(1);
                    state.done = true;
                    return;
                }
            }
        }

        // The carried stream first: it has seen the bytes before the reload too, so a kept
        // pattern's first match is its (the current stream's `fired` then drops the repeat).
        self.scan_carried(state, now, dir, ports, &mut on_hit);
        let stream = state.hs.as_ref().and_then(|h| h.stream.as_ref());
        let failed = match (stream, self.scratch.as_ref()) {
            (Some(stream), Some(scratch)) => {
                !scan_into(stream, scratch, now, &mut self.pending, Some)
            }
            _ => false,
        };
        let now_len = u64::try_from(now.len()).unwrap_or(u64::MAX);
        self.stats.bytes_scanned = self.stats.bytes_scanned.saturating_add(now_len);
        state.offset = state.offset.saturating_add(now_len);
        let base = state.hs.as_ref().map_or(0, |h| h.base);
        deliver(
            &self.set.inner.defs,
            &mut self.pending,
            &mut self.stats,
            Some(&mut state.fired),
            base,
            dir,
            ports,
            &mut on_hit,
        );

        if failed {
            self.stats.scan_errors = self.stats.scan_errors.saturating_add(1);
        }
        if failed || !beyond.is_empty() {
            if !failed {
                self.stats.streams_past_depth = self.stats.streams_past_depth.saturating_add(1);
                let extra = u64::try_from(beyond.len()).unwrap_or(u64::MAX);
                self.stats.bytes_past_depth = self.stats.bytes_past_depth.saturating_add(extra);
                state.offset = state.offset.saturating_add(extra);
            }
            state.done = true;
            // Free the Hyperscan state now; matches Hyperscan would raise at "end of stream"
            // here are not real (the stream goes on), so they are discarded.
            if let Some(mut h) = state.hs.take() {
                h.close(self.scratch.as_ref(), &mut |_, _| {});
                self.stats.streams_closed = self.stats.streams_closed.saturating_add(1);
            }
            self.drop_carried(state);
        }
    }

    /// A stream opened under another set gets to this one: its Hyperscan stream is kept
    /// beside (carried) when that set is this scanner's previous one, else closed.
    fn move_to_current_set(&mut self, state: &mut StreamState, mut old: OpenStream) {
        self.stats.set_changes = self.stats.set_changes.saturating_add(1);
        // A stream carried from an older switch: only one generation is kept.
        self.drop_carried(state);
        match self.prev.as_ref().filter(|p| p.holds(&old)) {
            Some(p) => {
                state.fired = p.carry_fired(&state.fired);
                state.prev = Some(old);
                self.stats.streams_carried = self.stats.streams_carried.saturating_add(1);
            }
            None => {
                old.close(None, &mut |_, _| {});
                // Indices of the old set mean other patterns in the new one.
                state.fired.clear();
                self.stats.streams_closed = self.stats.streams_closed.saturating_add(1);
            }
        }
    }

    /// Closes the carried stream, discarding its end-of-stream matches (the stream goes on, or
    /// its end is handled by [`Self::close`]).
    fn drop_carried(&mut self, state: &mut StreamState) {
        let Some(mut h) = state.prev.take() else {
            return;
        };
        let scratch = self
            .prev
            .as_ref()
            .filter(|p| p.holds(&h))
            .map(|p| &p.scratch);
        if !h.close(scratch, &mut |_, _| {}) {
            self.stats.scan_errors = self.stats.scan_errors.saturating_add(1);
        }
        self.stats.streams_closed = self.stats.streams_closed.saturating_add(1);
        self.release_prev();
    }

    /// Feeds `data` to the carried stream (if any) and reports the hits of kept patterns.
    fn scan_carried(
        &mut self,
        state: &mut StreamState,
        data: &[u8],
        dir: Direction,
        ports: Ports,
        on_hit: &mut dyn FnMut(&Hit<'_>),
    ) {
        let Some(h) = state.prev.as_ref() else {
            return;
        };
        let Some(p) = self.prev.as_ref().filter(|p| p.holds(h)) else {
            // Its set is no longer this scanner's previous one.
            self.drop_carried(state);
            return;
        };
        let Some(stream) = h.stream.as_ref() else {
            return;
        };
        let failed = !scan_into(stream, &p.scratch, data, &mut self.pending, |id| {
            p.carry(id)
        });
        let base = h.base;
        deliver(
            &self.set.inner.defs,
            &mut self.pending,
            &mut self.stats,
            Some(&mut state.fired),
            base,
            dir,
            ports,
            on_hit,
        );
        if failed {
            self.stats.scan_errors = self.stats.scan_errors.saturating_add(1);
            self.drop_carried(state);
        }
    }

    /// Ends a stream direction (flow end): reports end-of-stream matches (e.g. `$` anchors)
    /// and frees the Hyperscan stream. `state` is reset and may be reused for a new stream.
    pub fn close<F>(&mut self, state: &mut StreamState, mut on_hit: F)
    where
        F: FnMut(&Hit<'_>),
    {
        let StreamState {
            hs,
            prev,
            dir,
            ports,
            mut fired,
            ..
        } = std::mem::take(state);
        let dir = dir.unwrap_or(Direction::ToServer);
        // A stream that saw no bytes since the switch still holds the previous set's indices.
        if let Some(p) = hs
            .as_ref()
            .and_then(|h| self.prev.as_ref().filter(|p| p.holds(h)))
        {
            fired = p.carry_fired(&fired);
        }
        for h in [prev, hs].into_iter().flatten() {
            self.close_stream(h, &mut fired, dir, ports, &mut on_hit);
        }
        self.release_prev();
    }

    /// Closes one Hyperscan stream of a direction and reports its end-of-stream matches (a `$`
    /// anchor) under this set's indices: through this set's scratch, or the previous set's
    /// (kept patterns only); a stream of any other set is closed without them.
    fn close_stream(
        &mut self,
        mut h: OpenStream,
        fired: &mut Vec<u32>,
        dir: Direction,
        ports: Ports,
        on_hit: &mut dyn FnMut(&Hit<'_>),
    ) {
        let same_set = Arc::ptr_eq(&h.set, &self.set.inner);
        let p = self.prev.as_ref().filter(|p| !same_set && p.holds(&h));
        let scratch = if same_set {
            self.scratch.as_ref()
        } else {
            p.map(|p| &p.scratch)
        };
        let pending = &mut self.pending;
        let ok = h.close(scratch, &mut |id, to| {
            let id = if same_set {
                Some(id)
            } else {
                p.and_then(|p| p.carry(id))
            };
            if let Some(id) = id {
                if pending.len() < pending.capacity() {
                    pending.push((id, to));
                }
            }
        });
        self.stats.streams_closed = self.stats.streams_closed.saturating_add(1);
        if !ok {
            self.stats.scan_errors = self.stats.scan_errors.saturating_add(1);
        }
        deliver(
            &self.set.inner.defs,
            &mut self.pending,
            &mut self.stats,
            Some(fired),
            h.base,
            dir,
            ports,
            on_hit,
        );
    }

    /// Lets the previous set go once no stream (of any scanner) is open on it.
    fn release_prev(&mut self) {
        if self
            .prev
            .as_ref()
            .is_some_and(|p| p.set.open_streams() == 0)
        {
            self.prev = None;
        }
    }

    /// Scans one datagram (UDP payload) in block mode. Each pattern is reported at most once
    /// per call; `Hit::offset_end` counts from the start of `data`.
    pub fn scan_block<F>(&mut self, data: &[u8], dir: Direction, ports: Ports, mut on_hit: F)
    where
        F: FnMut(&Hit<'_>),
    {
        let (Some(db), Some(scratch)) = (self.set.inner.block_db.as_ref(), self.scratch.as_ref())
        else {
            return;
        };
        // Datagrams are at most 64 KiB; anything longer than one Hyperscan call is cut.
        let data = data.get(..MAX_SCAN_CALL).unwrap_or(data);
        let pending = &mut self.pending;
        let res = db.scan(data, scratch, |id, _from, to, _flags| {
            if pending.len() < pending.capacity() {
                pending.push((id, to));
            }
            Matching::Continue
        });
        if res.is_err() {
            self.stats.scan_errors = self.stats.scan_errors.saturating_add(1);
        }
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.stats.bytes_scanned = self.stats.bytes_scanned.saturating_add(len);
        deliver(
            &self.set.inner.defs,
            &mut self.pending,
            &mut self.stats,
            None,
            0,
            dir,
            ports,
            &mut on_hit,
        );
    }
}

/// Feeds `data` to a Hyperscan stream in pieces it accepts, buffering each match as
/// `(pattern index, end offset)` after `index` maps it (`None` drops it). False on a Hyperscan
/// error.
fn scan_into(
    stream: &Stream,
    scratch: &Scratch,
    data: &[u8],
    pending: &mut Vec<(u32, u64)>,
    index: impl Fn(u32) -> Option<u32>,
) -> bool {
    data.chunks(MAX_SCAN_CALL).all(|piece| {
        stream
            .scan(piece, scratch, |id, _from, to, _flags| {
                if let Some(i) = index(id) {
                    if pending.len() < pending.capacity() {
                        pending.push((i, to));
                    }
                }
                Matching::Continue
            })
            .is_ok()
    })
}

/// Applies scope and per-stream dedupe to the buffered matches, then calls back.
#[allow(clippy::too_many_arguments)] // disjoint borrows of Scanner and StreamState fields
fn deliver(
    defs: &[PatternDef],
    pending: &mut Vec<(u32, u64)>,
    stats: &mut ScanStats,
    mut fired: Option<&mut Vec<u32>>,
    base: u64,
    dir: Direction,
    ports: Ports,
    on_hit: &mut dyn FnMut(&Hit<'_>),
) {
    for (idx, to) in pending.drain(..) {
        let Some(def) = usize::try_from(idx).ok().and_then(|i| defs.get(i)) else {
            continue;
        };
        let offset_end = base.saturating_add(to);
        if !def.scope.allows(dir, ports, offset_end) {
            stats.hits_out_of_scope = stats.hits_out_of_scope.saturating_add(1);
            continue;
        }
        if let Some(f) = fired.as_deref_mut() {
            match f.binary_search(&idx) {
                Ok(_) => {
                    stats.hits_repeated = stats.hits_repeated.saturating_add(1);
                    continue;
                }
                Err(pos) if f.len() < MAX_FIRED_PER_STREAM => f.insert(pos, idx),
                Err(_) => {}
            }
        }
        stats.hits = stats.hits.saturating_add(1);
        on_hit(&Hit {
            pattern_id: idx,
            id: def.id,
            name: &def.name,
            offset_end,
            direction: dir,
            pattern: def,
        });
    }
}
