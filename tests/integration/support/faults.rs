//! Fault injection shared by the stateful mocks: "the next N requests of this route get this
//! answer instead", where a route is a method and a path prefix.

use serde_json::Value;

/// The pending injected answers of one mock, oldest first.
#[derive(Default)]
pub(crate) struct Faults(Vec<Fault>);

struct Fault {
    method: String,
    path_prefix: String,
    remaining: usize,
    status: u16,
    body: Value,
}

impl Faults {
    /// The next `count` requests whose method is `method` and whose path starts with
    /// `path_prefix` get `status` and `body`.
    pub(crate) fn add(
        &mut self,
        method: &str,
        path_prefix: &str,
        count: usize,
        status: u16,
        body: Value,
    ) {
        if count == 0 {
            return;
        }
        self.0.push(Fault {
            method: method.to_ascii_uppercase(),
            path_prefix: path_prefix.to_string(),
            remaining: count,
            status,
            body,
        });
    }

    /// The injected answer for a request, if a pending fault matches it (the oldest one wins);
    /// using it counts against that fault.
    pub(crate) fn take(&mut self, method: &str, path: &str) -> Option<(u16, Value)> {
        let index = self.0.iter().position(|fault| {
            fault.method.eq_ignore_ascii_case(method) && path.starts_with(&fault.path_prefix)
        })?;
        let fault = &mut self.0[index];
        fault.remaining -= 1;
        let answer = (fault.status, fault.body.clone());
        if fault.remaining == 0 {
            self.0.remove(index);
        }
        Some(answer)
    }
}
