//! pcap files (BEHAVIOUR.md §7): nanosecond magic, LINKTYPE_ETHERNET.

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_NETLINK: a 16-byte cooked header, then netlink messages.
pub const LINKTYPE_NETLINK: u32 = 253;
/// Nanosecond-resolution magic.
pub const MAGIC_NS: u32 = 0xa1b2_3c4d;
pub const SNAPLEN: u32 = 262_144;

/// The 24-byte global header.
pub fn header(linktype: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&MAGIC_NS.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&linktype.to_le_bytes());
    h
}

/// Appends one record stamped `nanos` since the Unix epoch (or the
/// simulator's virtual epoch).
pub fn record(out: &mut Vec<u8>, nanos: u64, data: &[u8]) {
    let incl = data.len().min(SNAPLEN as usize);
    out.extend_from_slice(&((nanos / 1_000_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((nanos % 1_000_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&(incl as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data[..incl]);
}

/// Splits a pcap byte stream into records: (record length in bytes) of the
/// first complete record in `buf`, if there is one.
pub fn next_record_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < 16 {
        return None;
    }
    let incl = u32::from_le_bytes(buf[8..12].try_into().ok()?) as usize;
    (buf.len() >= 16 + incl).then_some(16 + incl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_back() {
        let mut v = Vec::new();
        record(&mut v, 1_500_000_001, &[1, 2, 3]);
        record(&mut v, 2, &[4; 70]);
        assert_eq!(next_record_len(&v), Some(19));
        assert_eq!(&v[0..8], &[1, 0, 0, 0, 0x01, 0x65, 0xcd, 0x1d]);
        assert_eq!(next_record_len(&v[19..]), Some(86));
        assert_eq!(next_record_len(&v[19..40]), None);
    }
}
