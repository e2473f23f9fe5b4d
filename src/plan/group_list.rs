//! The planner's groups, in order of first appearance, kept in blocks of a fixed size.
//!
//! One `Vec` of a hundred thousand groups doubled its way there: each doubling copied every
//! group into fresh memory, and a profile of `plan` on a million rows had a quarter of the
//! run's page faults in that growth (the memory of the last copy and of every one before
//! it, each touched once). In blocks, only the first block grows that way (so a small plan
//! takes no more than it needs); after it, a group never moves and its memory is touched
//! once.

use std::ops::{Index, IndexMut};

use super::group::Group;

/// Groups per block: 4,096 groups of about 120 bytes each, half a megabyte.
const BLOCK: usize = 1 << BLOCK_BITS;
const BLOCK_BITS: u32 = 12;

/// How many groups ahead of the one taken [`GroupList::into_groups`] has the next one
/// fetched.
const FETCH_AHEAD: usize = 4;

/// A list of groups, indexed as a `Vec` is, that grows a block at a time.
#[derive(Debug, Default)]
pub struct GroupList {
    /// Every block but the last holds [`BLOCK`] groups; the first grows as a `Vec` does up
    /// to that, the others are made that size.
    blocks: Vec<Vec<Group>>,
    len: usize,
}

impl GroupList {
    /// The number of groups.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `group`; its index is the length before.
    pub fn push(&mut self, group: Group) {
        match self.blocks.last_mut() {
            Some(block) if block.len() < BLOCK => block.push(group),
            _ => {
                let mut block = match self.blocks.is_empty() {
                    true => Vec::new(),
                    false => Vec::with_capacity(BLOCK),
                };
                block.push(group);
                self.blocks.push(block);
            }
        }
        self.len += 1;
    }

    /// The group at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&Group> {
        self.blocks
            .get(index >> BLOCK_BITS)?
            .get(index & (BLOCK - 1))
    }

    /// Every group, in order, taken out of the list, `fetch` called with the group
    /// [`FETCH_AHEAD`] places later in its block as each one is taken: to start loading
    /// what the caller reads of it (see `plan::ahead`).
    pub fn into_groups(self, fetch: fn(&Group)) -> impl Iterator<Item = Group> {
        self.blocks.into_iter().flat_map(move |block| {
            let mut groups = block.into_iter();
            std::iter::from_fn(move || {
                if let Some(later) = groups.as_slice().get(FETCH_AHEAD) {
                    fetch(later);
                }
                groups.next()
            })
        })
    }
}

impl Index<usize> for GroupList {
    type Output = Group;

    fn index(&self, index: usize) -> &Group {
        &self.blocks[index >> BLOCK_BITS][index & (BLOCK - 1)]
    }
}

impl IndexMut<usize> for GroupList {
    fn index_mut(&mut self, index: usize) -> &mut Group {
        &mut self.blocks[index >> BLOCK_BITS][index & (BLOCK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::LineRef;

    fn group(line: u64) -> Group {
        Group::new(Some(format!("id-{line}")), LineRef { input: 0, line }, "id")
    }

    #[test]
    fn groups_keep_their_index_and_order_across_blocks() {
        let mut list = GroupList::default();
        let count = 2 * BLOCK + 3;
        for line in 0..count as u64 {
            list.push(group(line));
        }
        assert_eq!(list.len(), count);
        assert_eq!(list.blocks.len(), 3);
        for index in [0, BLOCK - 1, BLOCK, 2 * BLOCK + 2] {
            let id = format!("id-{index}");
            assert_eq!(list.get(index).and_then(Group::id), Some(id.as_str()));
            assert_eq!(list[index].id(), Some(id.as_str()));
        }
        assert!(list.get(count).is_none());
        let ids: Vec<_> = list
            .into_groups(Group::prefetch_for_finish)
            .map(|g| g.id().map(String::from))
            .collect();
        let want: Vec<_> = (0..count).map(|line| Some(format!("id-{line}"))).collect();
        assert!(ids == want, "the groups came out of order");
    }

    #[test]
    fn a_full_block_is_never_grown_and_a_group_never_moves() {
        let mut list = GroupList::default();
        for line in 0..BLOCK as u64 {
            list.push(group(line));
        }
        let first: *const Group = &list[0];
        for line in 0..BLOCK as u64 {
            list.push(group(line));
        }
        assert!(std::ptr::eq(first, &list[0]));
        assert!(list.blocks.iter().all(|block| block.len() == BLOCK));
        assert!(
            list.blocks[1..]
                .iter()
                .all(|block| block.capacity() == BLOCK)
        );
    }
}
