//! Durations as scenarios write them: `12s`, `500ms`, `100us`, `1.5s`, `2m`.

/// Nanoseconds from `12s`, `500ms`, `100us`, `250ns`, `2m`, `1.5s`; a bare
/// number is seconds.
pub fn parse(s: &str) -> Option<u64> {
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix("ns") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e9)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e9)
    } else {
        (s, 1e9)
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * mult).round() as u64)
}

/// `12.345678s`: fixed precision, so reports compare byte for byte.
pub fn fmt(ns: u64) -> String {
    format!("{}.{:06}s", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("12s"), Some(12_000_000_000));
        assert_eq!(parse("1.5s"), Some(1_500_000_000));
        assert_eq!(parse("500ms"), Some(500_000_000));
        assert_eq!(parse("100us"), Some(100_000));
        assert_eq!(parse("2m"), Some(120_000_000_000));
        assert_eq!(parse("3"), Some(3_000_000_000));
        assert_eq!(parse("soon"), None);
        assert_eq!(parse("-1s"), None);
        assert_eq!(fmt(1_500_000_000), "1.500000s");
    }
}
