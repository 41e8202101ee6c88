//! A user's fields: a short list in file order, searched by name.

use super::Field;

/// A field's name, shared by every user that has the field (`resolve` interns them): 100,000
/// users with five fields held half a million copies of five names.
pub type FieldName = std::sync::Arc<str>;

/// A user's fields by name, in file order, each name once. A user has a handful of fields, so
/// they are a list searched in order rather than a hash map: a name compares faster than it
/// hashes, and the list is a third of the map's size (the map kept a hash and a table slot per
/// field, a tenth of a large directory's configuration).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldMap(Vec<(FieldName, Field)>);

impl FieldMap {
    pub fn with_capacity(n: usize) -> FieldMap {
        FieldMap(Vec::with_capacity(n))
    }

    pub fn get(&self, name: &str) -> Option<&Field> {
        self.0.iter().find(|(k, _)| &**k == name).map(|(_, f)| f)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Field> {
        self.0
            .iter_mut()
            .find(|(k, _)| &**k == name)
            .map(|(_, f)| f)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Set a field: a field already present keeps its place and is replaced (its old value is
    /// returned); a new one goes last.
    pub fn insert(&mut self, name: FieldName, field: Field) -> Option<Field> {
        match self.get_mut(&name) {
            Some(f) => Some(std::mem::replace(f, field)),
            None => {
                self.0.push((name, field));
                None
            }
        }
    }

    /// Remove a field, the others keeping their order.
    pub fn shift_remove(&mut self, name: &str) -> Option<Field> {
        let i = self.0.iter().position(|(k, _)| &**k == name)?;
        Some(self.0.remove(i).1)
    }

    pub fn keys(&self) -> impl Iterator<Item = &FieldName> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&FieldName, &Field)> {
        self.0.iter().map(|(k, f)| (k, f))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a FieldMap {
    type Item = (&'a FieldName, &'a Field);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (FieldName, Field)>,
        fn(&'a (FieldName, Field)) -> (&'a FieldName, &'a Field),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, f)| (k, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::FieldValue;
    use crate::diag::Loc;

    fn text(s: &str) -> Field {
        Field {
            value: FieldValue::Text(s.into()),
            loc: Loc::default(),
        }
    }

    #[test]
    fn keeps_file_order_and_replaces_in_place() {
        let mut m = FieldMap::default();
        assert!(m.insert("b".into(), text("1")).is_none());
        assert!(m.insert("a".into(), text("2")).is_none());
        assert_eq!(m.insert("b".into(), text("3")), Some(text("1")));
        let keys: Vec<&str> = m.keys().map(|k| &**k).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(m.get("b"), Some(&text("3")));
        assert!(m.get("c").is_none() && !m.contains_key("c") && m.contains_key("a"));
        assert_eq!(m.shift_remove("b"), Some(text("3")));
        assert_eq!(m.len(), 1);
        assert_eq!(m.iter().next().map(|(k, _)| &**k), Some("a"));
    }
}
