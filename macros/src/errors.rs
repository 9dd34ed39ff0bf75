//! Collecting several errors into one `syn::Error`, so all are reported.

/// Errors gathered one by one and reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records every error of `other`.
    pub(crate) fn absorb(&mut self, other: Errors) {
        if let Some(error) = other.0 {
            self.push(error);
        }
    }

    /// Records the error of `result`, if any, and gives back its value.
    pub(crate) fn check<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// `Ok(value)` when nothing was recorded, else every recorded error.
    pub(crate) fn finish<T>(self, value: Option<T>) -> syn::Result<T> {
        match (self.0, value) {
            (Some(errors), _) => Err(errors),
            (None, Some(value)) => Ok(value),
            // Values go missing only with a recorded error; stay total anyway.
            (None, None) => Err(syn::Error::new(
                proc_macro2::Span::call_site(),
                "`#[scoped_cancel]` failed without an error: please report this",
            )),
        }
    }
}
