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

/// Calls `record` with every object of the pack no larger than `max_size` (resolved kind, bytes,
/// id), in parallel on `threads` threads (`None`: one per core).
pub(crate) fn traverse<D, F>(
    index: &pack::index::File,
    data: &pack::data::File<D>,
    max_size: u64,
    threads: Option<usize>,
    interrupt: &AtomicBool,
    record: F,
) -> Result<LeftOut, gix::Error>
where
    D: pack::FileData + Send + Sync,
    F: Fn(gix::object::Kind, &[u8], ObjectId) + Send + Sync + Clone,
{
    let mut entries: Vec<pack::index::Entry> = index.iter().collect();
    entries.sort_by_key(|e| e.pack_offset);
    let (kept, left_out) = within_limit(index, data, entries, max_size)?;
    let tree = pack::cache::delta::Tree::from_offsets_in_pack(
        data.path(),
        kept.into_iter(),
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
            // Sizes were checked above; this only guards against a header that lied.
            alloc_limit_bytes: usize::try_from(max_size).ok(),
        },
    )?;
    Ok(left_out)
}

/// Splits the entries (sorted by offset) into those to traverse and what is left out.
fn within_limit<D: pack::FileData>(
    index: &pack::index::File,
    data: &pack::data::File<D>,
    entries: Vec<pack::index::Entry>,
    max_size: u64,
) -> Result<(Vec<pack::index::Entry>, LeftOut), gix::Error> {
    let position = |offset: u64| {
        entries
            .binary_search_by_key(&offset, |e| e.pack_offset)
            .ok()
    };
    // Per entry: its delta base's position, and whether it is too large itself.
    let mut base = vec![None; entries.len()];
    let mut oversized = vec![false; entries.len()];
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
            _ => entry.decompressed_size,
        };
        if size > max_size {
            oversized[i] = true;
            left_out.oversized.push(Oversized { id: item.oid, size });
        }
    }
    if left_out.oversized.is_empty() {
        return Ok((entries, left_out));
    }
    // An entry is left out when it or any base down its delta chain is oversized.
    let mut out: Vec<Option<bool>> = vec![None; entries.len()];
    for start in 0..entries.len() {
        let mut chain = Vec::new();
        let mut at = Some(start);
        let verdict = loop {
            match at {
                None => break false,
                Some(i) if oversized[i] => break true,
                Some(i) => match out[i] {
                    Some(known) => break known,
                    None if chain.contains(&i) => break false,
                    None => {
                        chain.push(i);
                        at = base[i];
                    }
                },
            }
        };
        for i in chain {
            out[i] = Some(verdict);
        }
    }
    let mut kept = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        if out[i] == Some(true) || oversized[i] {
            left_out.dependents += usize::from(!oversized[i]);
        } else {
            kept.push(entry);
        }
    }
    Ok((kept, left_out))
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
