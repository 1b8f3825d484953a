//! What IGMP and MLD share: lists of addresses in the frame, and the
//! group records of IGMPv3 and MLDv2 reports (type, auxiliary data length,
//! source count, group, sources), generic over the address size.

/// A list of `A`-byte addresses in the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addrs<'a, const A: usize>(pub(super) &'a [u8]);

impl<'a, const A: usize> Addrs<'a, A> {
    pub fn len(&self) -> usize {
        self.0.len() / A
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = [u8; A]> + 'a {
        self.0
            .chunks_exact(A)
            .map(|c| c.try_into().expect("A bytes"))
    }
}

/// A record to write: (kind, group, sources).
pub type RecordSpec<'a, const A: usize> = (u8, [u8; A], &'a [[u8; A]]);

/// Writes a report's record count and records (the IGMPv3 and MLDv2
/// layout: kind, no auxiliary data, source count, group, sources).
pub(super) fn write_records<const A: usize>(m: &mut Vec<u8>, records: &[RecordSpec<'_, A>]) {
    m.extend_from_slice(&(records.len() as u16).to_be_bytes());
    for (kind, group, sources) in records {
        m.extend_from_slice(&[*kind, 0]);
        write_sources(m, sources, true);
        m.extend_from_slice(group);
        for s in *sources {
            m.extend_from_slice(s);
        }
    }
}

/// A source count, and the sources unless `count_only`.
pub(super) fn write_sources<const A: usize>(
    m: &mut Vec<u8>,
    sources: &[[u8; A]],
    count_only: bool,
) {
    m.extend_from_slice(&(sources.len() as u16).to_be_bytes());
    if !count_only {
        for s in sources {
            m.extend_from_slice(s);
        }
    }
}

/// One group record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a, const A: usize> {
    /// `MODE_IS_INCLUDE` (1) to `BLOCK_OLD_SOURCES` (6); the bridge
    /// ignores other kinds.
    pub kind: u8,
    pub group: [u8; A],
    pub sources: Addrs<'a, A>,
}

/// A record runs past the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overrun;

/// A report's records, read one by one as the kernel applies them: each
/// record, then [`Overrun`] if the next one does not fit. Like the kernel,
/// a record's auxiliary data is not skipped.
#[derive(Clone, Debug)]
pub struct Records<'a, const A: usize> {
    pub(super) rest: &'a [u8],
    pub(super) left: u16,
}

impl<'a, const A: usize> Iterator for Records<'a, A> {
    type Item = Result<Record<'a, A>, Overrun>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = self.rest;
        let head = 4 + A;
        let end =
            (r.len() >= head).then(|| head + A * usize::from(u16::from_be_bytes([r[2], r[3]])));
        match end {
            Some(end) if r.len() >= end => {
                self.rest = &r[end..];
                Some(Ok(Record {
                    kind: r[0],
                    group: r[4..head].try_into().expect("A bytes"),
                    sources: Addrs(&r[head..end]),
                }))
            }
            _ => {
                self.left = 0;
                Some(Err(Overrun))
            }
        }
    }
}
