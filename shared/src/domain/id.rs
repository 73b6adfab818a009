//! Ids: ULIDs, so they sort by creation time and are 26 URL-safe characters.

/// A new ULID.
pub fn new_id() -> String {
    ulid::Ulid::generate().to_string()
}

/// The ULID `id` spells (exactly 26 characters of Crockford base32), if it is one. Every id a
/// client sends (user, message, scheduled message, cursor) is checked here before it reaches a key.
pub fn parse_ulid(id: &str) -> Option<ulid::Ulid> {
    id.parse().ok()
}

pub fn is_ulid(id: &str) -> bool {
    parse_ulid(id).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_and_other_strings() {
        assert!(is_ulid(&new_id()));
        assert!(is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(!is_ulid("bob"));
        assert!(!is_ulid("USER#01ARZ3NDEKTSV4RRFFQ69G5FAV"));
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FA"));
        assert!(!is_ulid("01ARZ3NDEKTSV4RRFFQ69G5FAVX"));
        assert!(!is_ulid(""));
    }
}
