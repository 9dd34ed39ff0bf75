//! Argument names shared by both attributes: one wording for an unknown or
//! repeated argument, and one "did you mean" for misspellings and the names
//! users reach for from other crates.

use std::fmt::Display;

use proc_macro2::Span;

/// What one attribute accepts, for its error messages.
pub(crate) struct Accepted {
    /// Every accepted name with an example of its use, in the order the
    /// docs list them.
    pub(crate) names: &'static [(&'static str, &'static str)],
    /// Names that mean an accepted one (`deadline` for `timeout`).
    pub(crate) synonyms: &'static [(&'static str, &'static str)],
}

impl Accepted {
    /// The accepted name an unknown one most likely meant, if any.
    pub(crate) fn meant(&self, text: &str) -> Option<&'static str> {
        let synonym = self.synonyms.iter().find(|(alias, _)| *alias == text);
        synonym.map(|(_, known)| *known).or_else(|| {
            self.names
                .iter()
                .map(|(known, _)| *known)
                .filter(|known| edit_distance(known, text) <= 2)
                .min_by_key(|known| edit_distance(known, text))
        })
    }

    /// `unknown argument `x``, with the likely meaning and the full list.
    pub(crate) fn unknown(&self, span: Span, shown: &dyn Display, text: &str) -> syn::Error {
        let hint = self
            .meant(text)
            .map(|known| format!("did you mean `{known}`? "));
        syn::Error::new(
            span,
            format!(
                "unknown argument `{shown}`\nhelp: {}expected one of {}",
                hint.unwrap_or_default(),
                self.list()
            ),
        )
    }

    /// The example of an accepted name's use.
    pub(crate) fn example(&self, name: &str) -> Option<&'static str> {
        self.names.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
    }

    /// The accepted names, quoted and comma-separated.
    pub(crate) fn list(&self) -> String {
        let quoted: Vec<String> = self.names.iter().map(|(a, _)| format!("`{a}`")).collect();
        quoted.join(", ")
    }
}

/// An argument given twice, reported at the second one.
pub(crate) fn repeated(span: Span, name: &dyn Display) -> syn::Error {
    syn::Error::new(
        span,
        format!("`{name}` is given more than once\nhelp: each argument may appear at most once; remove this one"),
    )
}

/// Levenshtein distance, for "did you mean" hints on short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}
