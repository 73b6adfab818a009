//! Random one-to-one matching: who waits, and the order in which a newcomer tries the others.

/// A user waiting in the pool, on the connection that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub user_id: String,
    pub connection_id: String,
}

/// The others to try, in a random order: concurrent newcomers then rarely race for the same
/// partner (each race costs a cancelled transaction), and matching stays random.
pub fn candidates(mut pool: Vec<Waiting>, me: &str, random: impl FnMut(usize) -> usize) -> Vec<Waiting> {
    pool.retain(|w| w.user_id != me);
    shuffle(&mut pool, random);
    pool
}

/// Fisher-Yates with `random(n)` in `0..n`.
fn shuffle<T>(items: &mut [T], mut random: impl FnMut(usize) -> usize) {
    for i in (1..items.len()).rev() {
        let j = random(i + 1).min(i);
        items.swap(i, j);
    }
}

/// A random index in `0..n` (n > 0) from the OS.
pub fn random_below(n: usize) -> usize {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    (u64::from_le_bytes(bytes) % n.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: &str) -> Waiting {
        Waiting { user_id: id.into(), connection_id: format!("c-{id}") }
    }

    #[test]
    fn never_oneself_and_everyone_else_once() {
        let pool = vec![w("a"), w("me"), w("b"), w("c")];
        let mut got: Vec<String> = candidates(pool, "me", random_below).into_iter().map(|w| w.user_id).collect();
        got.sort();
        assert_eq!(got, ["a", "b", "c"]);
        assert!(candidates(vec![w("me")], "me", random_below).is_empty());
    }
}
