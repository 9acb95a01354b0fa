//! A small reader over TOML's spanned document tree. Unlike a serde pass, which stops at the
//! first problem, it keeps going and records every problem with its line and column, so an admin
//! fixes a policy in one round.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One problem in a policy file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Collects issues against one source text.
pub(crate) struct Diagnostics<'s> {
    source: &'s str,
    pub(crate) issues: Vec<Issue>,
}

impl<'s> Diagnostics<'s> {
    pub(crate) fn new(source: &'s str) -> Self {
        Self {
            source,
            issues: Vec::new(),
        }
    }

    pub(crate) fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.source, span.start);
        self.issues.push(Issue {
            line,
            column,
            message: message.into(),
        });
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit_once('\n')
        .map_or(before, |(_, rest)| rest)
        .chars()
        .count()
        + 1;
    (line, column)
}

/// A value with the byte range it came from.
pub(crate) type Located<T> = Spanned<T>;

/// A table being read: remembers which keys were consumed so the rest can be reported.
pub(crate) struct Table<'a, 'i> {
    table: &'a DeTable<'i>,
    span: Range<usize>,
    name: String,
    used: BTreeSet<&'a str>,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(crate) fn root(table: &'a Spanned<DeTable<'i>>) -> Self {
        Self {
            table: table.get_ref(),
            span: table.span(),
            name: String::new(),
            used: BTreeSet::new(),
        }
    }

    fn qualified(&self, key: &str) -> String {
        if self.name.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.name)
        }
    }

    /// Where this table is: for errors about a missing key.
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    pub(crate) fn section_name(&self) -> &str {
        &self.name
    }

    fn get(&mut self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        let (k, v) = self.table.iter().find(|(k, _)| k.get_ref() == key)?;
        self.used.insert(k.get_ref().as_ref());
        Some(v)
    }

    fn wrong_type(&self, d: &mut Diagnostics, key: &str, value: &Spanned<DeValue>, want: &str) {
        d.at(
            value.span(),
            format!(
                "`{}` must be {want}, found {}",
                self.qualified(key),
                value.get_ref().type_str()
            ),
        );
    }

    pub(crate) fn string(&mut self, d: &mut Diagnostics, key: &str) -> Option<Located<String>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Spanned::new(value.span(), s.to_string())),
            _ => {
                self.wrong_type(d, key, value, "a string");
                None
            }
        }
    }

    pub(crate) fn required_string(
        &mut self,
        d: &mut Diagnostics,
        key: &str,
    ) -> Option<Located<String>> {
        if self.table.iter().all(|(k, _)| k.get_ref() != key) {
            d.at(
                self.span.clone(),
                format!("missing required key `{}`", self.qualified(key)),
            );
            return None;
        }
        self.string(d, key)
    }

    pub(crate) fn bool(&mut self, d: &mut Diagnostics, key: &str) -> Option<Located<bool>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(Spanned::new(value.span(), *b)),
            _ => {
                self.wrong_type(d, key, value, "true or false");
                None
            }
        }
    }

    pub(crate) fn integer(&mut self, d: &mut Diagnostics, key: &str) -> Option<Located<i64>> {
        let value = self.get(key)?;
        let parsed = match value.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            _ => None,
        };
        if parsed.is_none() {
            self.wrong_type(d, key, value, "an integer");
        }
        parsed.map(|n| Spanned::new(value.span(), n))
    }

    pub(crate) fn strings(
        &mut self,
        d: &mut Diagnostics,
        key: &str,
    ) -> Option<Vec<Located<String>>> {
        let value = self.get(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(d, key, value, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                other => d.at(
                    item.span(),
                    format!(
                        "`{}` must hold only strings, found {}",
                        self.qualified(key),
                        other.type_str()
                    ),
                ),
            }
        }
        Some(out)
    }

    pub(crate) fn table(&mut self, d: &mut Diagnostics, key: &str) -> Option<Table<'a, 'i>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Table(t) => Some(Table {
                table: t,
                span: value.span(),
                name: self.qualified(key),
                used: BTreeSet::new(),
            }),
            _ => {
                self.wrong_type(d, key, value, "a table");
                None
            }
        }
    }

    /// An array of tables (`[[access]]`).
    pub(crate) fn tables(&mut self, d: &mut Diagnostics, key: &str) -> Vec<Table<'a, 'i>> {
        let Some(value) = self.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(d, key, value, "an array of tables ([[...]])");
            return Vec::new();
        };
        let name = self.qualified(key);
        items
            .iter()
            .filter_map(|item| match item.get_ref() {
                DeValue::Table(t) => Some(Table {
                    table: t,
                    span: item.span(),
                    name: name.clone(),
                    used: BTreeSet::new(),
                }),
                other => {
                    d.at(
                        item.span(),
                        format!("`{name}` must hold tables, found {}", other.type_str()),
                    );
                    None
                }
            })
            .collect()
    }

    /// Reports every key nobody asked for: typos are the commonest policy error.
    pub(crate) fn finish(self, d: &mut Diagnostics) {
        for (key, _) in self.table.iter() {
            if !self.used.contains(key.get_ref().as_ref()) {
                let what = if self.name.is_empty() {
                    format!("unknown section or key `{}`", key.get_ref())
                } else {
                    format!("unknown key `{}` in [{}]", key.get_ref(), self.name)
                };
                d.at(key.span(), what);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_column(src, 9), (2, 3));
    }
}
