//! [`Interner`]: a capped table of names (tools, error types), so that each minute's figures
//! key them by a small id instead of holding a copy of the name.

use std::collections::HashMap;

/// Names and their ids, in the order first seen; at most `cap` of them, kept for the
/// collector's lifetime.
#[derive(Debug)]
pub(crate) struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    cap: usize,
}

impl Interner {
    /// At most `cap` names.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            ids: HashMap::new(),
            names: Vec::new(),
            cap,
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The id of `name`, added if there is room; `None` once the table is full. Allocates only
    /// when `name` is new.
    pub(crate) fn intern(&mut self, name: &str) -> Option<u32> {
        if let Some(id) = self.get(name) {
            return Some(id);
        }
        if self.names.len() >= self.cap {
            return None;
        }
        let id = u32::try_from(self.names.len()).ok()?;
        self.ids.insert(name.into(), id);
        self.names.push(name.into());
        Some(id)
    }

    /// The name of an id this table gave out.
    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}
