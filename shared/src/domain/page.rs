//! Page sizes: every list a client pages through takes `limit` in `1..=max`, with a default.

use crate::error::{ChatError, Result};

/// The page sizes one list allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit {
    /// When the client gives no `limit`.
    pub default: usize,
    pub max: usize,
}

impl PageLimit {
    pub const fn new(default: usize, max: usize) -> Self {
        PageLimit { default, max }
    }

    /// The page size for what the client asked, or `invalid_input`.
    pub fn check(self, asked: Option<usize>) -> Result<usize> {
        let limit = asked.unwrap_or(self.default);
        if (1..=self.max).contains(&limit) {
            Ok(limit)
        } else {
            Err(ChatError::invalid(format!("limit must be between 1 and {}", self.max)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_stay_in_range() {
        let limit = PageLimit::new(20, 50);
        assert_eq!(limit.check(None).unwrap(), 20);
        assert_eq!(limit.check(Some(1)).unwrap(), 1);
        assert_eq!(limit.check(Some(50)).unwrap(), 50);
        assert_eq!(limit.check(Some(0)).unwrap_err().message, "limit must be between 1 and 50");
        assert!(limit.check(Some(51)).is_err());
    }
}
