fn main() {
    let mut g = patchbay_fuzz::lab();
    for l in std::io::stdin().lines() {
        let l = l.unwrap();
        let before = patchbay_fuzz::snapshot(&mut g, patchbay_core::Instant::ZERO);
        let r = patchbay_fuzz::run(&mut g, patchbay_core::Instant::ZERO, &l);
        let after = patchbay_fuzz::snapshot(&mut g, patchbay_core::Instant::ZERO);
        println!("{l} => {r:?} changed={}", before != after);
    }
}
