//! MAC addresses.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    pub const ZERO: Mac = Mac([0; 6]);

    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 != 0
    }
    pub fn is_broadcast(self) -> bool {
        self == Mac::BROADCAST
    }
    pub fn is_zero(self) -> bool {
        self == Mac::ZERO
    }
    /// A valid unicast source: not multicast, not zero.
    pub fn is_valid_source(self) -> bool {
        !self.is_multicast() && !self.is_zero()
    }
    /// 01:80:C2:00:00:0X → Some(X).
    pub fn link_local_group(self) -> Option<u8> {
        let [a, b, c, d, e, f] = self.0;
        (a == 0x01 && b == 0x80 && c == 0xc2 && d == 0 && e == 0 && f & 0xf0 == 0).then_some(f)
    }
    /// A locally administered unicast MAC from a number (tests, the simulator).
    pub fn local(n: u64) -> Mac {
        let b = n.to_be_bytes();
        Mac([0x02, b[3], b[4], b[5], b[6], b[7]])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a MAC address (six hex bytes separated by ':', like 02:00:00:00:00:01)")]
pub struct ParseMacError(pub String);

impl FromStr for Mac {
    type Err = ParseMacError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMacError(s.to_string());
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in out.iter_mut() {
            let p = parts.next().ok_or_else(err)?;
            if p.is_empty() || p.len() > 2 {
                return Err(err());
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Mac(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let m: Mac = "00:17:42:8A:b4:05".parse().unwrap();
        assert_eq!(m.to_string(), "00:17:42:8a:b4:05");
        assert!("00:17:42:8a:b4".parse::<Mac>().is_err());
        assert!("00:17:42:8a:b4:05:06".parse::<Mac>().is_err());
        assert!("zz:17:42:8a:b4:05".parse::<Mac>().is_err());
    }

    #[test]
    fn classes() {
        assert!(Mac::BROADCAST.is_multicast());
        assert!(!Mac::ZERO.is_valid_source());
        assert_eq!(
            "01:80:c2:00:00:0e"
                .parse::<Mac>()
                .unwrap()
                .link_local_group(),
            Some(0xe)
        );
        assert_eq!(
            "01:80:c2:00:00:10"
                .parse::<Mac>()
                .unwrap()
                .link_local_group(),
            None
        );
        assert!(Mac::local(7).is_valid_source());
    }
}
