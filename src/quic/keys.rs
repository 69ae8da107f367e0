//! Packet protection keys per encryption level, built from the TLS secrets the handshake
//! hands out (RFC 9001 5), and the 1-RTT key update (RFC 9001 6).

use crate::common::Side;
use crate::crypto::quic::{initial_secrets, initial_suite, next_secret, HeaderProtectionKey, PacketKey};
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;

/// The QUIC encryption levels (RFC 9001 2.1 and 4), in the order keys become available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Initial packets, keys from the client's Destination Connection ID (RFC 9001 5.2).
    Initial,
    /// 0-RTT packets (client to server only), keys from client_early_traffic_secret.
    ZeroRtt,
    /// Handshake packets, keys from the handshake traffic secrets.
    Handshake,
    /// 1-RTT packets, keys from the application traffic secrets.
    OneRtt,
}

/// Packet and header protection for one direction of one level.
#[derive(Debug)]
pub struct DirectionalKeys {
    /// AEAD packet protection (RFC 9001 5.3).
    pub packet: PacketKey,
    /// Header protection (RFC 9001 5.4).
    pub header: HeaderProtectionKey,
}

impl DirectionalKeys {
    /// Keys of one traffic secret (RFC 9001 5.1: "quic key", "quic iv", "quic hp").
    pub fn new(suite: &'static Tls13Suite, secret: &[u8]) -> Self {
        DirectionalKeys {
            packet: PacketKey::new(suite, secret),
            header: HeaderProtectionKey::new(suite, secret),
        }
    }
}

/// Both directions of one level: `local` protects what we send, `remote` opens what we get.
#[derive(Debug)]
pub struct Keys {
    /// Protects the packets we send.
    pub local: DirectionalKeys,
    /// Opens the packets the peer sends.
    pub remote: DirectionalKeys,
}

impl Keys {
    /// RFC 9001 5.2: Initial keys (QUIC version 1) from the Destination Connection ID of the
    /// client's first Initial packet.
    pub fn initial(client_dcid: &[u8], side: Side) -> Self {
        let (client, server) = initial_secrets(client_dcid);
        Secrets::new(initial_suite(), side, client, server).keys()
    }
}

/// The two packet keys after a key update (RFC 9001 6.1: header protection keys stay).
#[derive(Debug)]
pub struct PacketKeySet {
    /// Protects the packets we send in the new key phase.
    pub local: PacketKey,
    /// Opens the peer's packets of the new key phase.
    pub remote: PacketKey,
}

/// The client and server traffic secrets of one level, as TLS derived them.
///
/// Secret material: zeroized on drop, never printed.
pub struct Secrets {
    suite: &'static Tls13Suite,
    side: Side,
    client: Secret,
    server: Secret,
}

impl core::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Secrets")
            .field("suite", &self.suite.suite)
            .field("side", &self.side)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    pub(crate) fn new(suite: &'static Tls13Suite, side: Side, client: Secret, server: Secret) -> Self {
        Secrets {
            suite,
            side,
            client,
            server,
        }
    }

    /// The negotiated suite (its AEAD protects packets, its hash derives keys).
    pub fn suite(&self) -> &'static Tls13Suite {
        self.suite
    }

    /// The client's traffic secret of this level (for 1-RTT: the current generation).
    pub fn client(&self) -> &Secret {
        &self.client
    }

    /// The server's traffic secret of this level (for 1-RTT: the current generation).
    pub fn server(&self) -> &Secret {
        &self.server
    }

    fn local_remote(&self) -> (&Secret, &Secret) {
        match self.side {
            Side::Client => (&self.client, &self.server),
            Side::Server => (&self.server, &self.client),
        }
    }

    /// Packet and header protection keys of the current secrets.
    pub fn keys(&self) -> Keys {
        let (local, remote) = self.local_remote();
        Keys {
            local: DirectionalKeys::new(self.suite, local.as_bytes()),
            remote: DirectionalKeys::new(self.suite, remote.as_bytes()),
        }
    }

    /// RFC 9001 6.1: a key update. Both secrets move on with "quic ku" (the old ones are
    /// zeroized) and the packet keys of the new generation come back; header protection
    /// keys do not change. A QUIC stack calls this once per Key Phase flip, keeping the
    /// previous keys for reordered packets as RFC 9001 6.3 allows.
    pub fn next_packet_keys(&mut self) -> PacketKeySet {
        self.client = next_secret(self.suite, self.client.as_bytes());
        self.server = next_secret(self.suite, self.server.as_bytes());
        let (local, remote) = self.local_remote();
        PacketKeySet {
            local: PacketKey::new(self.suite, local.as_bytes()),
            remote: PacketKey::new(self.suite, remote.as_bytes()),
        }
    }
}

/// New keys from the handshake: install them for sending after the bytes that preceded them
/// and for receiving from now on.
#[derive(Debug)]
pub enum KeyChange {
    /// Handshake keys: later handshake bytes (ours and the peer's) use the Handshake level.
    Handshake {
        /// The handshake traffic secrets (RFC 8446 7.1).
        secrets: Secrets,
    },
    /// 1-RTT keys. Keep `secrets` for key updates ([`Secrets::next_packet_keys`]).
    OneRtt {
        /// The first application traffic secrets (RFC 8446 7.1).
        secrets: Secrets,
    },
}

impl KeyChange {
    /// The level these keys are for.
    pub fn level(&self) -> Level {
        match self {
            KeyChange::Handshake { .. } => Level::Handshake,
            KeyChange::OneRtt { .. } => Level::OneRtt,
        }
    }

    /// The traffic secrets these keys come from.
    pub fn secrets(&self) -> &Secrets {
        match self {
            KeyChange::Handshake { secrets } | KeyChange::OneRtt { secrets } => secrets,
        }
    }

    /// Packet and header protection keys of this level.
    pub fn keys(&self) -> Keys {
        self.secrets().keys()
    }
}
