//! [`Extensions`]: typed values an application hands to its tools through the executor, such as
//! a database pool or a policy, one value per type.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// A map from a type to one value of that type, shared by every call of an executor.
///
/// Set values with [`ToolExecutorBuilder::extension`](crate::ToolExecutorBuilder::extension)
/// (or [`ToolContext::with_extension`](crate::ToolContext::with_extension) when calling a tool
/// directly); a tool reads them with [`ToolContext::extension`](crate::ToolContext::extension).
/// Two executors in one process can so serve the same tools with different settings.
///
/// ```
/// use fact_runtime::Extensions;
///
/// #[derive(Debug, PartialEq)]
/// struct Greeting(&'static str);
///
/// let mut extensions = Extensions::new();
/// assert!(extensions.insert(Greeting("hello")).is_none());
/// assert_eq!(extensions.get::<Greeting>(), Some(&Greeting("hello")));
/// assert_eq!(extensions.get::<String>(), None);
/// ```
#[derive(Clone, Default)]
pub struct Extensions {
    values: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, returning the value of the same type it replaces, if any.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) -> Option<Arc<T>> {
        self.values
            .insert(TypeId::of::<T>(), Arc::new(value))
            .and_then(|old| old.downcast::<T>().ok())
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
    }

    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is stored.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("len", &self.values.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_value_of_one_type_replaces_the_first() {
        let mut extensions = Extensions::new();
        extensions.insert(1_u32);
        let replaced = extensions.insert(2_u32);
        assert_eq!(replaced.as_deref(), Some(&1));
        assert_eq!(extensions.get::<u32>(), Some(&2));
        assert_eq!(extensions.len(), 1);
    }

    #[test]
    fn values_are_keyed_by_type_not_by_shape() {
        let mut extensions = Extensions::new();
        extensions.insert(7_u32);
        extensions.insert(7_u64);
        assert_eq!(extensions.get::<u32>(), Some(&7));
        assert_eq!(extensions.get::<u64>(), Some(&7));
        assert_eq!(extensions.get::<i32>(), None);
    }
}
