//! "Did you mean …?": the closest known word to a misspelled one.

/// Returns the candidate closest to `word` by edit distance, if it is close enough to be a
/// plausible typo (distance at most a third of the word's length, and at least 1).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if word.len() > 64 {
        return None;
    }
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Levenshtein distance between two short strings.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_keyword_for_a_typo() {
        assert_eq!(
            closest("rate_limt", ["rate_limit", "respond"]),
            Some("rate_limit")
        );
        assert_eq!(closest("gatewya", ["gateway", "service"]), Some("gateway"));
    }

    #[test]
    fn suggests_nothing_for_an_unrelated_word() {
        assert_eq!(closest("banana", ["gateway", "service"]), None);
    }
}
