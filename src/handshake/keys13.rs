//! The TLS 1.3 key schedule as a handshake walks it (RFC 8446 7.1), one type per stage:
//! [`EarlyKeys`] (the PSK, if any) becomes [`HandshakeKeys`] with the (EC)DHE secret, which
//! becomes [`ApplicationKeys`] with the server Finished in the transcript. Each step consumes
//! the stage before it, derives that stage's traffic secrets, logs them (SSLKEYLOGFILE labels)
//! and hands them to a transport that protects its own packets (QUIC, RFC 9001 4.1.4); the
//! keys are installed through the stage that holds them, each in its direction for our side.
//! So neither machine can install application keys before the handshake secret exists, use a
//! secret of the wrong stage, or read with its own key: the client and server machines only
//! say *when*.

use super::output::{KeyLevel, Output, Side};
use crate::crypto::hash::Transcript;
use crate::crypto::key_schedule::{finished_verify_data_prk, KeySchedule13};
use crate::crypto::secret::Secret;
use crate::crypto::suites::Tls13Suite;
use crate::crypto::Prk;
use crate::error::Error;

/// The Early Secret stage: binders and 0-RTT keys come from it.
pub(crate) struct EarlyKeys {
    ks: KeySchedule13,
    suite: &'static Tls13Suite,
}

impl EarlyKeys {
    /// Early Secret = HKDF-Extract(0, PSK) (zeros without one), every label under the
    /// transport's `prefix` (`"dtls13"` on DTLS 1.3, RFC 9147 5.9).
    pub fn new(prefix: &'static [u8], suite: &'static Tls13Suite, psk: Option<&[u8]>) -> Self {
        EarlyKeys {
            ks: KeySchedule13::with_prefix(suite.hash, prefix, psk),
            suite,
        }
    }

    /// RFC 8446 4.2.11.2: the binder over the truncated ClientHello's transcript hash, under
    /// "res binder" (a resumption ticket) or "ext binder" (an external PSK).
    pub fn binder(&self, resumption: bool, truncated_hello_hash: &[u8]) -> Vec<u8> {
        let binder_key = self.ks.binder_key(resumption);
        finished_verify_data_prk(&self.ks.prk(&binder_key), truncated_hello_hash)
    }

    /// RFC 8446 7.1, 4.2.10: client_early_traffic_secret and early_exporter_master_secret
    /// over the ClientHello, logged; the early exporter becomes available and a QUIC stack
    /// gets its 0-RTT secret (RFC 9001 4.6.1). The key is installed with
    /// [`EarlyTraffic::install`].
    pub fn early_traffic(&self, cx: &mut dyn Output, hello_hash: &[u8]) -> EarlyTraffic {
        let early = self.ks.client_early_traffic_secret(hello_hash);
        let early_exporter = self.ks.early_exporter_master_secret(hello_hash);
        cx.log_secret("CLIENT_EARLY_TRAFFIC_SECRET", &early);
        cx.log_secret("EARLY_EXPORTER_SECRET", &early_exporter);
        cx.negotiated().early_exporter = Some((self.suite.hash, early_exporter));
        cx.early_secret(self.suite, &early);
        EarlyTraffic {
            suite: self.suite,
            key: self.ks.prk(&early),
        }
    }

    /// RFC 8446 7.1: with the ServerHello in `transcript`, the Handshake Secret from the
    /// (EC)DHE secret (`Hash.length` zeros for psk_ke) and the two handshake traffic
    /// secrets, logged and handed to QUIC.
    pub fn into_handshake(
        self,
        cx: &mut dyn Output,
        side: Side,
        shared_secret: &[u8],
        transcript: &Transcript,
    ) -> HandshakeKeys {
        let mut ks = self.ks;
        ks.input_shared_secret(shared_secret);
        let hash = transcript.current_hash();
        let client = ks.client_handshake_traffic_secret(&hash);
        let server = ks.server_handshake_traffic_secret(&hash);
        cx.log_secret("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &client);
        cx.log_secret("SERVER_HANDSHAKE_TRAFFIC_SECRET", &server);
        cx.traffic_secrets(KeyLevel::Handshake, self.suite, &client, &server);
        let traffic = TrafficPair {
            suite: self.suite,
            side,
            client: ks.prk(&client),
            server: ks.prk(&server),
        };
        HandshakeKeys { ks, traffic }
    }
}

/// The 0-RTT key, the client's to write and the server's to read.
pub(crate) struct EarlyTraffic {
    suite: &'static Tls13Suite,
    key: Prk,
}

impl EarlyTraffic {
    /// Installs the key in `side`'s direction (RFC 8446 4.2.10).
    pub fn install(self, cx: &mut dyn Output, side: Side) {
        match side {
            Side::Client => cx.install_write13(self.suite, &self.key, KeyLevel::Early),
            Side::Server => cx.install_read13(self.suite, &self.key, KeyLevel::Early),
        }
    }
}

/// A pair of handshake traffic secrets (as PRKs: record key, IV and Finished key come from
/// each), seen from our side.
pub(crate) struct TrafficPair {
    suite: &'static Tls13Suite,
    side: Side,
    client: Prk,
    server: Prk,
}

impl TrafficPair {
    fn ours(&self) -> &Prk {
        match self.side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    fn theirs(&self) -> &Prk {
        match self.side {
            Side::Client => &self.server,
            Side::Server => &self.client,
        }
    }

    /// Reads the peer's handshake records from here on.
    pub fn install_read(&self, cx: &mut dyn Output) {
        cx.install_read13(self.suite, self.theirs(), KeyLevel::Handshake);
    }

    /// Writes our handshake records from here on.
    pub fn install_write(&self, cx: &mut dyn Output) {
        cx.install_write13(self.suite, self.ours(), KeyLevel::Handshake);
    }

    /// RFC 8446 4.4.4: our Finished verify_data over `transcript_hash`.
    pub fn our_finished(&self, transcript_hash: &[u8]) -> Vec<u8> {
        finished_verify_data_prk(self.ours(), transcript_hash)
    }

    /// RFC 8446 4.4.4: the peer's Finished, compared in constant time (decrypt_error).
    pub fn check_their_finished(&self, transcript_hash: &[u8], got: &[u8]) -> Result<(), Error> {
        super::check_verify_data(finished_verify_data_prk(self.theirs(), transcript_hash), got)
    }
}

/// The Handshake Secret stage.
pub(crate) struct HandshakeKeys {
    ks: KeySchedule13,
    traffic: TrafficPair,
}

impl HandshakeKeys {
    /// The handshake traffic keys.
    pub fn traffic(&self) -> &TrafficPair {
        &self.traffic
    }

    /// RFC 8446 7.1: with the server Finished in `transcript`, the Master Secret and from it
    /// client/server_application_traffic_secret_0 and exporter_master_secret, logged; the
    /// exporter becomes available. The handshake keys stay (the client's Finished, and
    /// EndOfEarlyData, still use them).
    pub fn into_application(self, cx: &mut dyn Output, transcript: &Transcript) -> ApplicationKeys {
        let mut ks = self.ks;
        ks.input_empty();
        let hash = transcript.current_hash();
        let client = ks.client_application_traffic_secret_0(&hash);
        let server = ks.server_application_traffic_secret_0(&hash);
        let exporter = ks.exporter_master_secret(&hash);
        cx.log_secret("CLIENT_TRAFFIC_SECRET_0", &client);
        cx.log_secret("SERVER_TRAFFIC_SECRET_0", &server);
        cx.log_secret("EXPORTER_SECRET", &exporter);
        cx.negotiated().exporter = Some((self.traffic.suite.hash, exporter));
        ApplicationKeys {
            ks,
            handshake: self.traffic,
            client,
            server,
        }
    }
}

/// The Master Secret stage: application traffic secrets, resumption.
pub(crate) struct ApplicationKeys {
    ks: KeySchedule13,
    handshake: TrafficPair,
    client: Secret,
    server: Secret,
}

impl ApplicationKeys {
    /// The handshake traffic keys, still in use until our Finished is out and the peer's in.
    pub fn handshake(&self) -> &TrafficPair {
        &self.handshake
    }

    fn ours(&self) -> &Secret {
        match self.handshake.side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    fn theirs(&self) -> &Secret {
        match self.handshake.side {
            Side::Client => &self.server,
            Side::Server => &self.client,
        }
    }

    /// Reads the peer's application data from here on.
    pub fn install_read(&self, cx: &mut dyn Output) {
        let key = self.ks.prk(self.theirs());
        cx.install_read13(self.handshake.suite, &key, KeyLevel::Application);
    }

    /// Writes application data from here on; a QUIC stack gets both 1-RTT secrets now, right
    /// after our Finished (RFC 9001 4.1.4).
    pub fn install_write(&self, cx: &mut dyn Output) {
        let suite = self.handshake.suite;
        cx.traffic_secrets(KeyLevel::Application, suite, &self.client, &self.server);
        let key = self.ks.prk(self.ours());
        cx.install_write13(suite, &key, KeyLevel::Application);
    }

    /// RFC 8446 7.1: resumption_master_secret over ClientHello..client Finished.
    pub fn resumption_master_secret(&self, transcript: &Transcript) -> Secret {
        self.ks.resumption_master_secret(&transcript.current_hash())
    }

    /// The application traffic secrets (ours, theirs) the established connection updates
    /// (RFC 8446 7.2).
    pub fn into_traffic_secrets(self) -> (Secret, Secret) {
        match self.handshake.side {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        }
    }
}
