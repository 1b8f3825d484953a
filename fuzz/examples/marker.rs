//! Writes the bond's reply to a Marker Information PDU as a pcap (for
//! tshark): `cargo run -p patchbay-fuzz --example marker -- out.pcap`.
use patchbay_core::pipeline::Outputs;
use patchbay_core::wire::lacp::{self, Marker};
use patchbay_core::wire::{Mac, Offload};
use patchbay_core::{AttachId, Instant};

fn main() {
    let path = std::env::args().nth(1).expect("a pcap path");
    let mut g = patchbay_fuzz::lab();
    let p5 = patchbay_fuzz::ATTACHED
        .iter()
        .position(|(n, _)| *n == "p5")
        .unwrap() as u32;
    let req = Marker {
        tlv_type: lacp::MARKER_INFORMATION,
        requester_port: 1,
        requester_system: Mac::local(0x55),
        requester_transaction_id: 42,
    };
    let mut file = patchbay_core::pcap::header(patchbay_core::pcap::LINKTYPE_ETHERNET).to_vec();
    let f = lacp::frame(Mac::local(0x55), &req.emit());
    patchbay_core::pcap::record(&mut file, 0, &f);
    let mut out = Outputs::new();
    g.receive(
        Instant::ZERO,
        AttachId(p5),
        &f,
        None,
        Offload::NONE,
        &mut out,
    );
    out.flush(|_, b| {
        for (x, _) in b.iter() {
            patchbay_core::pcap::record(&mut file, 1, x);
        }
    });
    std::fs::write(path, file).unwrap();
}
