//! The trees of a history, kept in memory for attribution while the packs are traversed.
//!
//! Attribution walks every commit's tree, oldest commit first, visiting each distinct tree once.
//! Decoding those trees again from the object database (random access, every delta chain
//! rebuilt) was most of a history scan with findings: on git/git, 9 s on one core after a 7 s
//! scan. Trees never delta against blobs, so each pack's trees are traversed after its other
//! objects ([`super::pack_walk`]): by then the scan knows which blobs hold secrets, and each tree
//! is kept as only what the walk needs, its subtrees (in entry order, with their names) and its
//! entries that point at a matched blob. A tree the traversal did not keep (a loose one, one in a
//! pack that could not be read) is read from the object database when the walk reaches it.

use gix::ObjectId;

use super::GitError;

/// What attribution needs of one tree.
pub(crate) struct KeptTree {
    /// Each subtree's slot, in entry order.
    subtrees: Vec<u32>,
    /// The subtrees' names, each followed by a NUL (a tree entry's name never holds one).
    names: Box<[u8]>,
    /// The entries pointing at a wanted object, in entry order: (object, name).
    pub wanted: Vec<(ObjectId, Box<[u8]>)>,
    /// The tree could not be parsed past the entries above.
    pub corrupt: bool,
}

impl KeptTree {
    /// Each subtree's slot and name, in entry order.
    pub fn subtrees(&self) -> impl Iterator<Item = (u32, &[u8])> {
        self.subtrees
            .iter()
            .copied()
            .zip(self.names.split(|&b| b == 0))
    }
}

/// A tree parsed, before its subtrees are given slots.
pub(crate) struct ParsedTree {
    subtrees: Vec<ObjectId>,
    names: Vec<u8>,
    wanted: Vec<(ObjectId, Box<[u8]>)>,
    corrupt: bool,
}

/// Parses a tree's bytes, keeping its subtrees and the entries whose object is in `wanted`.
pub(crate) fn parse(
    data: &[u8],
    hash_kind: gix::hash::Kind,
    wanted: &gix::hashtable::HashSet<ObjectId>,
) -> ParsedTree {
    let mut parsed = ParsedTree {
        subtrees: Vec::new(),
        names: Vec::new(),
        wanted: Vec::new(),
        corrupt: false,
    };
    for entry in gix::objs::TreeRefIter::from_bytes(data, hash_kind) {
        let Ok(entry) = entry else {
            parsed.corrupt = true;
            break;
        };
        if entry.mode.is_tree() {
            parsed.subtrees.push(entry.oid.to_owned());
            parsed.names.extend_from_slice(entry.filename);
            parsed.names.push(0);
        } else if wanted.contains(entry.oid) {
            parsed
                .wanted
                .push((entry.oid.to_owned(), entry.filename.to_vec().into()));
        }
    }
    parsed
}

/// Trees by slot (a small number standing for a tree id).
pub(crate) struct TreeIndex {
    /// The objects whose entries are kept (the matched blobs).
    wanted: gix::hashtable::HashSet<ObjectId>,
    slots: gix::hashtable::HashMap<ObjectId, u32>,
    ids: Vec<ObjectId>,
    /// `None`: a tree named by a commit or a parent tree but not kept (yet).
    trees: Vec<Option<KeptTree>>,
}

impl TreeIndex {
    /// An empty index for the trees' entries that point at `wanted`.
    pub fn new(wanted: gix::hashtable::HashSet<ObjectId>) -> Self {
        TreeIndex {
            wanted,
            slots: Default::default(),
            ids: Vec::new(),
            trees: Vec::new(),
        }
    }

    pub fn wanted(&self) -> &gix::hashtable::HashSet<ObjectId> {
        &self.wanted
    }

    /// How many slots there are (trees kept or named).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The slot of a tree id, given one if it has none.
    pub fn slot(&mut self, id: ObjectId) -> u32 {
        if let Some(&slot) = self.slots.get(&id) {
            return slot;
        }
        let slot = u32::try_from(self.ids.len()).expect("fewer than 2^32 trees");
        self.slots.insert(id, slot);
        self.ids.push(id);
        self.trees.push(None);
        slot
    }

    pub fn id(&self, slot: u32) -> ObjectId {
        self.ids[slot as usize]
    }

    /// Keeps a parsed tree (the first copy wins: an object in several packs is the same).
    pub fn keep(&mut self, id: ObjectId, parsed: ParsedTree) {
        let slot = self.slot(id);
        if self.trees[slot as usize].is_some() {
            return;
        }
        let kept = self.kept(parsed);
        self.trees[slot as usize] = Some(kept);
    }

    fn kept(&mut self, parsed: ParsedTree) -> KeptTree {
        KeptTree {
            subtrees: parsed
                .subtrees
                .into_iter()
                .map(|id| self.slot(id))
                .collect(),
            names: parsed.names.into(),
            wanted: parsed.wanted,
            corrupt: parsed.corrupt,
        }
    }

    /// The kept tree at `slot`, if the traversal kept it.
    pub fn get(&self, slot: u32) -> Option<&KeptTree> {
        self.trees[slot as usize].as_ref()
    }

    /// Reads the tree at `slot` from the object database (one the traversal did not keep); it
    /// is not kept, since the walk visits each tree once.
    pub fn read(&mut self, repo: &gix::Repository, slot: u32) -> Result<KeptTree, GitError> {
        let id = self.id(slot);
        let mut buf = Vec::new();
        let data = super::read_object(repo, id, "tree", &mut buf)?;
        let parsed = parse(data, repo.object_hash(), &self.wanted);
        Ok(self.kept(parsed))
    }
}
