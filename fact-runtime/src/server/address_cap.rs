//! [`AddressCap`]: how many connections each client address has open, so that one address
//! cannot take every connection slot of the server.
//!
//! An IPv4 client is counted by its address. An IPv6 client is counted by its /64 network,
//! the block one subscriber is usually given, since a single host can pick any address in it;
//! an IPv4 address mapped into IPv6 (a dual-stack listener) is counted as the IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// Counts open connections per client address, up to a cap. Memory is bounded by the open
/// connections: an address is forgotten when its last connection closes.
#[derive(Debug)]
pub(crate) struct AddressCap {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of an address; dropping it frees the address's slot.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    cap: Arc<AddressCap>,
    key: IpAddr,
}

impl AddressCap {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The most connections one address may have open.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A slot for one more connection from `peer`, or `None` when it has the cap already.
    pub(crate) fn try_open(self: &Arc<Self>, peer: IpAddr) -> Option<AddressSlot> {
        let key = counted_as(peer);
        // The counts stay consistent whatever a panicking holder did: each update is one step.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            cap: Arc::clone(self),
            key,
        })
    }

    #[cfg(test)]
    fn open_for(&self, peer: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&counted_as(peer)).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.cap.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The key `peer` is counted under: itself for IPv4, its /64 network for IPv6.
fn counted_as(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_address_gets_at_most_its_cap_and_others_are_not_affected() {
        let cap = AddressCap::new(2);
        let held: Vec<_> = (0..2)
            .map(|_| cap.try_open(ip("10.0.0.1")).expect("within the cap"))
            .collect();
        assert!(cap.try_open(ip("10.0.0.1")).is_none());
        assert!(cap.try_open(ip("10.0.0.2")).is_some());
        drop(held);
    }

    #[test]
    fn a_closed_connection_frees_its_slot_and_an_idle_address_is_forgotten() {
        let cap = AddressCap::new(1);
        let slot = cap.try_open(ip("10.0.0.1")).expect("within the cap");
        assert!(cap.try_open(ip("10.0.0.1")).is_none());
        drop(slot);
        assert_eq!(cap.open_for(ip("10.0.0.1")), 0);
        assert!(cap.open.lock().expect("not poisoned").is_empty());
        assert!(cap.try_open(ip("10.0.0.1")).is_some());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_network() {
        let cap = AddressCap::new(1);
        let _slot = cap.try_open(ip("2001:db8:1:2::1")).expect("within the cap");
        assert!(cap.try_open(ip("2001:db8:1:2:ffff::9")).is_none());
        assert!(cap.try_open(ip("2001:db8:1:3::1")).is_some());
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_the_ipv4_address() {
        let cap = AddressCap::new(1);
        let _slot = cap.try_open(ip("192.0.2.7")).expect("within the cap");
        assert!(cap.try_open(ip("::ffff:192.0.2.7")).is_none());
    }
}
