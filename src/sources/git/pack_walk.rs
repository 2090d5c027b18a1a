//! Traversing one pack in pack order within a size limit: objects larger than the limit (a
//! "blob bomb", 10 GB of zeros that compress to 10 MB) are never inflated, and neither are the
//! objects stored as deltas of them (resolving those would need the large base in memory).
//!
//! gix's own traversal (`traverse_with_index`) inflates every object whole, and its allocation
//! limit aborts the whole pack at the first large object; so the delta tree is built here from
//! the pack's entries minus the oversized ones and traversed with gix's resolver. An object's
//! size is known before inflating it: a base object's from its pack entry header, a delta's
//! result from the first bytes of its delta data (only inflated when the delta is large enough
//! to expand past the limit: each delta byte produces at most 64 KiB).
//!
//! A pack's entries are split into trees and the rest ([`plan`]): git only stores an object
//! as a delta of one of the same kind, so each part is a forest of delta chains of its own and
//! is traversed on its own ([`traverse`]), trees last, once the scan of the rest knows what
//! attribution will look for in them.

use std::sync::atomic::AtomicBool;

use gix::ObjectId;
use gix::odb::pack;
use pack::data::entry::Header;

/// One object left out for its size.
pub(crate) struct Oversized {
    pub id: ObjectId,
    pub size: u64,
}

/// What a traversal left out.
#[derive(Default)]
pub(crate) struct LeftOut {
    pub oversized: Vec<Oversized>,
    /// Objects stored as deltas of an oversized one.
    pub dependents: usize,
}

/// The most a delta's result can grow per byte of delta data: one copy instruction byte with no
/// offset or size bytes copies 0x10000 bytes.
const MAX_DELTA_EXPANSION: u64 = 0x10000;

/// A pack's entries to traverse, in pack order, split by kind. Each part also starts with the
/// pack's first entry, whatever its kind (see [`plan`]).
pub(crate) struct Plan {
    /// Blobs, commits and tags (and objects whose kind is unknown: deltas of a base outside
    /// the pack).
    pub others: Vec<pack::index::Entry>,
    pub trees: Vec<pack::index::Entry>,
    pub left_out: LeftOut,
}

/// Splits the pack's entries into trees and the rest, leaving out those larger than
/// `max_size` and the deltas of those.
pub(crate) fn plan<D: pack::FileData>(
    index: &pack::index::File,
    data: &pack::data::File<D>,
    max_size: u64,
) -> Result<Plan, gix::Error> {
    let mut entries: Vec<pack::index::Entry> = index.iter().collect();
    entries.sort_by_key(|e| e.pack_offset);
    let position = |offset: u64| {
        entries
            .binary_search_by_key(&offset, |e| e.pack_offset)
            .ok()
    };
    // Per entry: its delta base's position, whether it is too large itself, and, for an entry
    // stored whole, whether it is a tree.
    let mut base = vec![None; entries.len()];
    let mut oversized = vec![false; entries.len()];
    let mut is_tree = vec![None; entries.len()];
    let mut left_out = LeftOut::default();
    for (i, item) in entries.iter().enumerate() {
        let entry = data.entry(item.pack_offset)?;
        let size = match entry.header {
            Header::OfsDelta { base_distance } => {
                base[i] = Header::verified_base_pack_offset(item.pack_offset, base_distance)
                    .and_then(position);
                delta_result_size(data, &entry, max_size)
            }
            Header::RefDelta { base_id } => {
                base[i] = index
                    .lookup(base_id)
                    .map(|at| index.pack_offset_at_index(at))
                    .and_then(position);
                delta_result_size(data, &entry, max_size)
            }
            header => {
                is_tree[i] = Some(header == Header::Tree);
                entry.decompressed_size
            }
        };
        if size > max_size {
            oversized[i] = true;
            left_out.oversized.push(Oversized { id: item.oid, size });
        }
    }
    // An entry is left out when it or any base down its delta chain is oversized; it is a tree
    // when the object at the bottom of its chain is.
    let excluded = if left_out.oversized.is_empty() {
        vec![false; entries.len()]
    } else {
        down_chains(&base, |i| oversized[i].then_some(true))
    };
    let trees = down_chains(&base, |i| is_tree[i]);
    let mut plan = Plan {
        others: Vec::with_capacity(entries.len()),
        trees: Vec::new(),
        left_out,
    };
    // gix builds a delta tree by reading the entries' headers in one pass over the pack file,
    // and reads the first one without seeking to it: a part that does not start at the pack's
    // first entry would be read from the wrong place. So each part starts with that entry (an
    // object stored whole), which the other part's reader ignores for its kind.
    let first = entries
        .first()
        .filter(|_| is_tree[0].is_some() && !excluded[0])
        .cloned();
    for (i, entry) in entries.into_iter().enumerate() {
        if excluded[i] {
            plan.left_out.dependents += usize::from(!oversized[i]);
        } else if trees[i] {
            plan.trees.push(entry);
        } else {
            plan.others.push(entry);
        }
    }
    if let Some(first) = first {
        for part in [&mut plan.others, &mut plan.trees] {
            if part
                .first()
                .is_some_and(|e| e.pack_offset != first.pack_offset)
            {
                part.insert(0, first.clone());
            }
        }
    }
    Ok(plan)
}

/// For every entry, what `decide` says of the first entry down its delta chain (itself first)
/// of which it says something; false when the chain ends at a base outside the pack, or loops.
fn down_chains(base: &[Option<usize>], decide: impl Fn(usize) -> Option<bool>) -> Vec<bool> {
    let mut out: Vec<Option<bool>> = vec![None; base.len()];
    let mut chain = Vec::new();
    for start in 0..base.len() {
        let mut at = Some(start);
        let verdict = loop {
            let Some(i) = at else { break false };
            if let Some(said) = decide(i).or(out[i]) {
                break said;
            }
            if chain.contains(&i) {
                break false;
            }
            chain.push(i);
            at = base[i];
        };
        for i in chain.drain(..) {
            out[i] = Some(verdict);
        }
        out[start].get_or_insert(verdict);
    }
    out.into_iter().map(|v| v == Some(true)).collect()
}

/// Calls `record` with every object of `entries` (entries of the pack, in pack order, as
/// [`plan`] split them) with its resolved kind, bytes and id, in parallel on `threads` threads
/// (`None`: one per core). `max_size` only guards against a header that lied.
pub(crate) fn traverse<D, F>(
    index: &pack::index::File,
    data: &pack::data::File<D>,
    entries: Vec<pack::index::Entry>,
    max_size: u64,
    threads: Option<usize>,
    interrupt: &AtomicBool,
    record: F,
) -> Result<(), gix::Error>
where
    D: pack::FileData + Send + Sync,
    F: Fn(gix::object::Kind, &[u8], ObjectId) + Send + Sync + Clone,
{
    if entries.is_empty() {
        return Ok(());
    }
    let tree = pack::cache::delta::Tree::from_offsets_in_pack(
        data.path(),
        entries.into_iter(),
        &|e: &pack::index::Entry| e.pack_offset,
        &|id| Ok(index.lookup(id).map(|i| index.pack_offset_at_index(i))),
        &mut gix::progress::Discard,
        interrupt,
        index.object_hash(),
    )?;
    tree.traverse(
        |slice, pack: &pack::data::File<D>| pack.entry_slice(slice),
        data,
        data.pack_end() as u64,
        move |entry: &mut pack::index::Entry, _, context| {
            if let Some(kind) = context.entry.header.as_kind() {
                record(kind, context.decompressed, entry.oid);
            }
            Ok(())
        },
        pack::cache::delta::traverse::Options {
            object_progress: Box::new(gix::progress::Discard),
            size_progress: &mut gix::progress::Discard,
            thread_limit: threads,
            should_interrupt: interrupt,
            object_hash: index.object_hash(),
            alloc_limit_bytes: usize::try_from(max_size).ok(),
        },
    )?;
    Ok(())
}

/// The size of the object a delta entry makes, from its delta header (read by inflating only
/// the first bytes), or, for a delta too small to expand past `max_size` at all, a bound of it.
fn delta_result_size<D: pack::FileData>(
    data: &pack::data::File<D>,
    entry: &pack::data::Entry,
    max_size: u64,
) -> u64 {
    let bound = entry.decompressed_size.saturating_mul(MAX_DELTA_EXPANSION);
    if bound <= max_size {
        return bound;
    }
    let Some(compressed) = data.entry_slice(entry.data_offset..data.pack_end() as u64) else {
        return u64::MAX;
    };
    // Two LEB128 sizes (base, result) of at most 10 bytes each.
    let mut header = [0u8; 20];
    let mut inflate = flate2::Decompress::new(true);
    let _ = inflate.decompress(compressed, &mut header, flate2::FlushDecompress::None);
    let produced = inflate.total_out() as usize;
    let mut sizes = header[..produced].iter();
    let mut read_size = || {
        let mut size = 0u64;
        for (shift, byte) in (0..64).step_by(7).zip(sizes.by_ref()) {
            size |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(size);
            }
        }
        None
    };
    // A header that cannot be read is treated as too large: it is not inflated.
    read_size().and(read_size()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::down_chains;

    #[test]
    fn a_delta_takes_what_is_said_of_the_bottom_of_its_chain() {
        // 0 <- 1 <- 2 (a chain), 3 alone, 4 a delta of a base outside the pack, 5 <-> 6 a loop.
        let base = [None, Some(0), Some(1), None, None, Some(6), Some(5)];
        let said = [Some(true), None, None, Some(false), None, None, None];
        assert_eq!(
            down_chains(&base, |i| said[i]),
            [true, true, true, false, false, false, false]
        );
        // Something said halfway down a chain stops there: 1 is oversized, so 2 is left out.
        let oversized = [false, true, false, false, false, false, false];
        assert_eq!(
            down_chains(&base, |i| oversized[i].then_some(true)),
            [false, true, true, false, false, false, false]
        );
    }
}
