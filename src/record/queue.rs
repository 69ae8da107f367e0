//! The priority outgoing queue. Items wait as plaintext with a class and are
//! encrypted when `write_tls` drains them, under the write state current for that item:
//!
//! 1. a fatal alert jumps ahead of everything not yet encrypted, and nothing follows it;
//!    but it does not jump a key change the peer already expects (only a CCS before it):
//!    the alert goes under the keys the peer is reading with;
//! 2. handshake messages, CCS and warning alerts go before application data of the same epoch;
//! 3. application data waits until the handshake opens the application write state;
//! 4. a key change is a barrier: items queued before it use the old keys, after it the new;
//!    the message announcing it (KeyUpdate) goes after that epoch's application data, since
//!    the peer reads everything behind it with the new keys.
//!
//! `close_notify` is queued in order behind application data already written (it means "I
//! have finished sending"), so a graceful close never drops data the application wrote.

use std::collections::VecDeque;

use super::WriteState;
use crate::codec::{AlertDescription, AlertLevel, Codec, ContentType, HandshakeType};
use crate::msgs::AlertMessage;

/// What the queue hands to the encryptor next.
#[derive(Debug)]
pub(crate) enum OutItem<'a> {
    /// One record's worth of plaintext, lent until the next call into the queue.
    Record { typ: ContentType, data: &'a [u8] },
    /// Switch to this write state before encrypting anything further.
    KeyChange(Box<WriteState>),
}

/// One entry of an epoch's application queue.
#[derive(Debug)]
enum AppItem {
    /// Written plaintext; consecutive writes share one buffer. `start` is how far records
    /// have been cut from it.
    Data { bytes: Vec<u8>, start: usize },
    /// close_notify, in order behind the data written before it.
    Close,
}

/// Everything queued under one write state.
#[derive(Debug, Default)]
struct Epoch {
    /// Handshake messages, CCS and non-fatal alerts, in order.
    control: VecDeque<(ContentType, Vec<u8>)>,
    app: VecDeque<AppItem>,
    /// The state that takes over once this epoch's items are out.
    then: Option<Box<WriteState>>,
}

/// The encoded close_notify alert (RFC 8446 6.1: level warning, description 0).
const CLOSE_NOTIFY: [u8; 2] = [1, 0];

#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    fatal: Option<AlertMessage>,
    /// Set once the fatal alert has been handed out: nothing follows it.
    dead: bool,
    epochs: VecDeque<Epoch>,
    /// Application data written before the handshake opened the application write state.
    blocked_app: VecDeque<AppItem>,
    app_open: bool,
    app_bytes: usize,
    /// The control record being handed out (coalesced handshake messages, alerts).
    scratch: Vec<u8>,
    /// A drained data buffer kept for the next write, so steady-state writes do not allocate.
    spare: Vec<u8>,
}

impl OutQueue {
    fn tail(&mut self) -> &mut Epoch {
        if self.epochs.back().is_none_or(|e| e.then.is_some()) {
            self.epochs.push_back(Epoch::default());
        }
        // Just ensured non-empty.
        self.epochs.back_mut().expect("tail epoch exists")
    }

    pub fn push_handshake(&mut self, msg: Vec<u8>) {
        self.tail().control.push_back((ContentType::Handshake, msg));
    }

    pub fn push_ccs(&mut self) {
        self.tail()
            .control
            .push_back((ContentType::ChangeCipherSpec, vec![1]));
    }

    /// Queues an alert: fatal ones jump the queue (rule 1); close_notify follows the data
    /// already written, also data still held back for the handshake; other warnings go with
    /// the control messages.
    pub fn push_alert(&mut self, level: AlertLevel, description: AlertDescription) {
        let msg = AlertMessage { level, description };
        if level == AlertLevel::Fatal {
            if self.fatal.is_none() && !self.dead {
                self.fatal = Some(msg);
            }
        } else if description == AlertDescription::CloseNotify && self.app_open {
            self.tail().app.push_back(AppItem::Close);
        } else if description == AlertDescription::CloseNotify && !self.blocked_app.is_empty() {
            self.blocked_app.push_back(AppItem::Close);
        } else {
            self.tail().control.push_back((ContentType::Alert, msg.to_vec()));
        }
    }

    /// The connection failed with no alert to send (the peer's fatal alert): nothing still
    /// queued goes out, and nothing queued later.
    pub fn abandon(&mut self) {
        self.fatal = None;
        self.dead = true;
        self.epochs.clear();
        self.blocked_app.clear();
        self.app_bytes = 0;
    }

    /// Queues application data (rule 3: held back until [`OutQueue::open_app`]). Appends to
    /// the last queued buffer when it can, so a stream of writes costs no allocation.
    pub fn push_app(&mut self, data: &[u8]) {
        self.push_app_data(data, true);
    }

    /// Queues application data as a message of its own (DTLS, which "preserves the datagram
    /// semantics of the underlying transport", RFC 6347 and RFC 9147, abstracts): its records
    /// carry no bytes of another message, while records of several messages may still share
    /// a datagram.
    pub fn push_app_message(&mut self, data: &[u8]) {
        self.push_app_data(data, false);
    }

    /// [`push_app`](Self::push_app) (`append`: into the last queued buffer when it can) or
    /// [`push_app_message`](Self::push_app_message).
    fn push_app_data(&mut self, data: &[u8], append: bool) {
        if data.is_empty() {
            return;
        }
        self.app_bytes += data.len();
        let spare = &mut self.spare;
        let items = if self.app_open {
            if self.epochs.back().is_none_or(|e| e.then.is_some()) {
                self.epochs.push_back(Epoch::default());
            }
            match self.epochs.back_mut() {
                Some(e) => &mut e.app,
                None => return,
            }
        } else {
            &mut self.blocked_app
        };
        if let (true, Some(AppItem::Data { bytes, .. })) = (append, items.back_mut()) {
            bytes.extend_from_slice(data);
            return;
        }
        let mut bytes = std::mem::take(spare);
        bytes.extend_from_slice(data);
        items.push_back(AppItem::Data { bytes, start: 0 });
    }

    /// 0-RTT data (RFC 8446 4.2.10): sent in order with the handshake messages of the
    /// current epoch, i.e. under the early-data keys the client installed after ClientHello.
    pub fn push_early(&mut self, data: Vec<u8>) {
        if !data.is_empty() {
            self.tail()
                .control
                .push_back((ContentType::ApplicationData, data));
        }
    }

    /// Application data taken back from the connection's outgoing buffer, where it was framed
    /// while nothing was queued: it was written before anything queued now, so it goes first
    /// among the application data of the current epoch (the front one).
    pub fn push_app_front(&mut self, data: Vec<u8>) {
        if data.is_empty() || self.dead || !self.app_open {
            return;
        }
        self.app_bytes += data.len();
        if self.epochs.is_empty() {
            self.epochs.push_back(Epoch::default());
        }
        if let Some(epoch) = self.epochs.front_mut() {
            epoch.app.push_front(AppItem::Data {
                bytes: data,
                start: 0,
            });
        }
    }

    /// Rule 4: everything queued after this uses `state`.
    pub fn push_key_change(&mut self, state: WriteState) {
        self.tail().then = Some(Box::new(state));
    }

    /// True while a handshake message of type `typ` waits in the queue, not yet encrypted
    /// (each queued message starts with its type, in TLS and DTLS framing alike).
    pub fn holds_handshake(&self, typ: HandshakeType) -> bool {
        !self.dead
            && self.epochs.iter().any(|e| {
                e.control
                    .iter()
                    .any(|(ct, msg)| *ct == ContentType::Handshake && msg.first() == Some(&typ.get()))
            })
    }

    /// The handshake has activated application keys for writing (rule 3).
    pub fn open_app(&mut self) {
        if self.app_open {
            return;
        }
        self.app_open = true;
        let blocked = std::mem::take(&mut self.blocked_app);
        self.tail().app.extend(blocked);
    }

    /// True once application data may be encrypted (rule 3).
    pub fn is_app_open(&self) -> bool {
        self.app_open && !self.dead
    }

    /// Application bytes queued but not yet encrypted (for the buffered-plaintext cap).
    pub fn app_bytes(&self) -> usize {
        self.app_bytes
    }

    /// Whether the next item [`pop`](Self::pop) hands out is application data or
    /// close_notify, no handshake message or key change (DTLS 1.3: what may go out under
    /// the current keys while our KeyUpdate awaits its ACK, RFC 9147 8).
    pub fn next_is_app(&self) -> bool {
        if self.fatal.is_some() || self.dead {
            return false;
        }
        let Some(epoch) = self.epochs.front() else {
            return false;
        };
        let first_app = epoch
            .app
            .iter()
            .find(|i| !matches!(i, AppItem::Data { bytes, start } if *start == bytes.len()));
        // As `pop`: an epoch ending in a key change keeps its last control message until its
        // data is out.
        let keep = usize::from(epoch.then.is_some() && first_app.is_some());
        first_app.is_some() && epoch.control.len() <= keep
    }

    pub fn is_empty(&self) -> bool {
        self.fatal.is_none()
            && (self.dead
                || self.epochs.iter().all(|e| {
                    e.control.is_empty()
                        && e.then.is_none()
                        && e.app
                            .iter()
                            .all(|i| matches!(i, AppItem::Data { bytes, start } if *start == bytes.len()))
                }))
    }

    /// Frees the idle buffers.
    pub fn release(&mut self) {
        self.scratch = Vec::new();
        self.spare = Vec::new();
        if self
            .epochs
            .iter()
            .all(|e| e.control.is_empty() && e.app.is_empty() && e.then.is_none())
        {
            self.epochs = VecDeque::new();
        }
    }

    /// Next thing to encrypt. Consecutive handshake messages are coalesced, and large items
    /// split, so each `Record` carries at most `max_fragment` bytes.
    pub fn pop(&mut self, max_fragment: usize) -> Option<OutItem<'_>> {
        if self.fatal.is_some() {
            // Rule 1's one exception: a key change the peer already expects (nothing but a
            // CCS between it and what went out) is applied first, so the alert goes under the
            // keys the peer reads with (RFC 8446 6: alerts are protected under the current
            // state; A.1: a client rekeys to the handshake keys before sending its alert).
            // A key change that waits on an unsent message (a ServerHello, a client's key
            // exchange, a KeyUpdate) is dropped with it: the alert stays under the old keys.
            if let Some(epoch) = self.epochs.front_mut().filter(|e| {
                e.then.is_some()
                    && e.control
                        .iter()
                        .all(|(typ, _)| *typ == ContentType::ChangeCipherSpec)
            }) {
                // The CCS is what announces a TLS 1.2 key change (RFC 5246 7.1).
                if let Some((typ, data)) = epoch.control.pop_front() {
                    self.scratch = data;
                    return Some(OutItem::Record {
                        typ,
                        data: &self.scratch,
                    });
                }
                let then = epoch.then.take();
                self.epochs.pop_front();
                return then.map(OutItem::KeyChange);
            }
        }
        if let Some(alert) = self.fatal.take() {
            self.dead = true;
            self.epochs.clear();
            self.blocked_app.clear();
            self.app_bytes = 0;
            self.scratch.clear();
            alert.encode(&mut self.scratch);
            return Some(OutItem::Record {
                typ: ContentType::Alert,
                data: &self.scratch,
            });
        }
        if self.dead {
            return None;
        }
        if self.data_is_next() {
            return self.cut_front_data(max_fragment);
        }
        loop {
            let epoch = self.epochs.front_mut()?;
            // Recycle a drained data buffer.
            if let Some(AppItem::Data { bytes, start }) = epoch.app.front() {
                if *start == bytes.len() {
                    if let Some(AppItem::Data { mut bytes, .. }) = epoch.app.pop_front() {
                        if self.spare.capacity() == 0 {
                            bytes.clear();
                            self.spare = bytes;
                        }
                    }
                    continue;
                }
            }
            // The last control message of an epoch that ends in a key change is the one the
            // peer switches keys on (KeyUpdate, RFC 8446 4.6.3; CCS): the epoch's data must be
            // on the wire before it, or the peer would read old-key records with new keys.
            let app_pending = epoch
                .app
                .iter()
                .any(|i| !matches!(i, AppItem::Data { bytes, start } if *start == bytes.len()));
            let keep = usize::from(epoch.then.is_some() && app_pending);
            let ready = epoch.control.len().saturating_sub(keep);
            if let Some((typ, mut data)) = (ready > 0).then(|| epoch.control.pop_front()).flatten() {
                if data.len() > max_fragment {
                    let rest = data.split_off(max_fragment);
                    epoch.control.push_front((typ, rest));
                } else if typ == ContentType::Handshake {
                    while let Some((ContentType::Handshake, next)) = epoch.control.front() {
                        if data.len() + next.len() > max_fragment || epoch.control.len() <= keep {
                            break;
                        }
                        if let Some((_, next)) = epoch.control.pop_front() {
                            data.extend_from_slice(&next);
                        }
                    }
                }
                self.scratch = data;
                return Some(OutItem::Record {
                    typ,
                    data: &self.scratch,
                });
            }
            match epoch.app.front() {
                Some(AppItem::Close) => {
                    epoch.app.pop_front();
                    return Some(OutItem::Record {
                        typ: ContentType::Alert,
                        data: &CLOSE_NOTIFY,
                    });
                }
                Some(AppItem::Data { .. }) => break,
                None => {}
            }
            let then = epoch.then.take();
            self.epochs.pop_front();
            if let Some(state) = then {
                return Some(OutItem::KeyChange(state));
            }
        }
        // The front epoch's first item is data with bytes left.
        self.cut_front_data(max_fragment)
    }

    /// Whether the front epoch's first data buffer goes next, with bytes left and no control
    /// message before it: the steady state of a connection that only sends data, which
    /// [`pop`](Self::pop) serves without walking its rules.
    fn data_is_next(&self) -> bool {
        self.epochs.front().is_some_and(|epoch| {
            epoch.control.is_empty()
                && matches!(epoch.app.front(), Some(AppItem::Data { bytes, start }) if *start < bytes.len())
        })
    }

    /// One record of at most `max_fragment` bytes cut from the front epoch's first data
    /// buffer.
    fn cut_front_data(&mut self, max_fragment: usize) -> Option<OutItem<'_>> {
        let Some(AppItem::Data { bytes, start }) = self.epochs.front_mut()?.app.front_mut() else {
            return None;
        };
        let from = *start;
        let n = max_fragment.min(bytes.len() - from);
        *start += n;
        self.app_bytes -= n;
        Some(OutItem::Record {
            typ: ContentType::ApplicationData,
            data: &bytes[from..from + n],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut OutQueue) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(item) = q.pop(16384) {
            out.push(match item {
                OutItem::Record { typ, data } => format!("{}:{}", typ, String::from_utf8_lossy(data)),
                OutItem::KeyChange(_) => "keychange".to_string(),
            });
        }
        out
    }

    fn ks() -> WriteState {
        WriteState::plaintext(0x0303)
    }

    #[test]
    fn rule1_fatal_alert_jumps_ahead_and_nothing_follows() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(b"data");
        q.push_handshake(b"hs".to_vec());
        q.push_alert(AlertLevel::Fatal, AlertDescription::DecodeError);
        let out = q.pop(100).unwrap();
        assert!(matches!(out, OutItem::Record { typ: ContentType::Alert, data } if data == [2, 50]));
        assert!(q.pop(100).is_none());
        q.push_handshake(b"late".to_vec());
        assert!(q.pop(100).is_none(), "nothing is sent after a fatal alert");
    }

    /// The fatal alert as `drain` shows it.
    fn fatal(description: AlertDescription) -> String {
        let mut enc = Vec::new();
        AlertMessage {
            level: AlertLevel::Fatal,
            description,
        }
        .encode(&mut enc);
        format!("alert:{}", String::from_utf8_lossy(&enc))
    }

    #[test]
    fn rule1_fatal_alert_does_not_jump_a_key_change_the_peer_expects() {
        // A TLS 1.3 client that read the ServerHello queued its compatibility CCS and the
        // switch to its handshake keys; the server reads with those keys from now on.
        let mut q = OutQueue::default();
        q.push_ccs();
        q.push_key_change(ks());
        q.push_app(b"blocked");
        q.push_alert(AlertLevel::Fatal, AlertDescription::BadCertificate);
        assert_eq!(
            drain(&mut q),
            [
                "change_cipher_spec:\u{1}".to_string(),
                "keychange".to_string(),
                fatal(AlertDescription::BadCertificate)
            ]
        );
        q.push_handshake(b"late".to_vec());
        assert!(q.pop(100).is_none(), "nothing is sent after a fatal alert");

        // Without compatibility mode (or QUIC-like callers) there is no CCS at all.
        let mut q = OutQueue::default();
        q.push_key_change(ks());
        q.push_handshake(b"finished".to_vec());
        q.push_key_change(ks());
        q.push_alert(AlertLevel::Fatal, AlertDescription::UnknownCa);
        assert_eq!(
            drain(&mut q),
            ["keychange".to_string(), fatal(AlertDescription::UnknownCa)]
        );
    }

    #[test]
    fn rule1_fatal_alert_does_not_move_onto_keys_announced_by_an_unsent_message() {
        // A server whose ServerHello never went out: the alert stays in plaintext and the
        // flight is dropped.
        let mut q = OutQueue::default();
        q.push_handshake(b"sh".to_vec());
        q.push_ccs();
        q.push_key_change(ks());
        q.push_handshake(b"ee".to_vec());
        q.push_key_change(ks());
        q.push_alert(AlertLevel::Fatal, AlertDescription::DecodeError);
        assert_eq!(drain(&mut q), [fatal(AlertDescription::DecodeError)]);

        // Once the ServerHello is out, the alert follows it onto the handshake keys, not
        // onto the application keys behind the unsent Finished.
        let mut q = OutQueue::default();
        q.push_handshake(b"sh".to_vec());
        q.push_ccs();
        q.push_key_change(ks());
        q.push_handshake(b"ee".to_vec());
        q.push_key_change(ks());
        assert!(matches!(q.pop(100), Some(OutItem::Record { data, .. }) if data == b"sh"));
        q.push_alert(AlertLevel::Fatal, AlertDescription::DecodeError);
        assert_eq!(
            drain(&mut q),
            [
                "change_cipher_spec:\u{1}".to_string(),
                "keychange".to_string(),
                fatal(AlertDescription::DecodeError)
            ]
        );

        // A KeyUpdate not yet sent: the peer still reads the old keys.
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(b"old");
        q.push_handshake(b"keyupdate".to_vec());
        q.push_key_change(ks());
        q.push_alert(AlertLevel::Fatal, AlertDescription::InternalError);
        assert_eq!(drain(&mut q), [fatal(AlertDescription::InternalError)]);
        assert_eq!(q.app_bytes(), 0);
    }

    #[test]
    fn abandoned_queue_sends_nothing() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_handshake(b"flight".to_vec());
        q.push_app(b"data");
        q.abandon();
        assert!(q.pop(100).is_none());
        q.push_handshake(b"late".to_vec());
        q.push_alert(AlertLevel::Fatal, AlertDescription::DecodeError);
        assert!(q.pop(100).is_none(), "nothing is sent once abandoned");
    }

    #[test]
    fn rule2_handshake_before_app_data_of_same_epoch() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(b"a1");
        q.push_handshake(b"nst".to_vec());
        assert_eq!(drain(&mut q), ["handshake:nst", "application_data:a1"]);
    }

    #[test]
    fn rule3_app_data_waits_for_application_keys() {
        let mut q = OutQueue::default();
        q.push_app(b"early");
        q.push_handshake(b"ch".to_vec());
        assert_eq!(drain(&mut q), ["handshake:ch"]);
        q.push_key_change(ks());
        q.push_handshake(b"fin".to_vec());
        q.push_key_change(ks());
        q.open_app();
        assert_eq!(
            drain(&mut q),
            [
                "keychange",
                "handshake:fin",
                "keychange",
                "application_data:early"
            ]
        );
    }

    #[test]
    fn rule4_key_change_is_a_barrier() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(b"old");
        q.push_handshake(b"keyupdate".to_vec());
        q.push_key_change(ks());
        q.push_app(b"new");
        q.push_handshake(b"nst".to_vec());
        // The KeyUpdate is the last record under the old keys: the peer switches on it.
        assert_eq!(
            drain(&mut q),
            [
                "application_data:old",
                "handshake:keyupdate",
                "keychange",
                "handshake:nst",
                "application_data:new"
            ]
        );
    }

    #[test]
    fn key_update_waits_for_the_data_of_its_epoch_even_when_coalescing() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(b"old");
        q.push_handshake(b"nst".to_vec());
        q.push_handshake(b"keyupdate".to_vec());
        q.push_key_change(ks());
        assert_eq!(
            drain(&mut q),
            [
                "handshake:nst",
                "application_data:old",
                "handshake:keyupdate",
                "keychange"
            ]
        );
    }

    #[test]
    fn close_notify_follows_written_data() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(b"bye");
        q.push_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        let out = drain(&mut q);
        assert_eq!(out[0], "application_data:bye");
        assert!(out[1].starts_with("alert:"));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn close_notify_during_the_handshake_follows_data_held_for_it() {
        let mut q = OutQueue::default();
        q.push_app(b"early");
        q.push_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        q.push_handshake(b"finished".to_vec());
        assert_eq!(
            drain(&mut q),
            ["handshake:finished"],
            "nothing else before the handshake"
        );
        q.open_app();
        let out = drain(&mut q);
        assert_eq!(out[0], "application_data:early");
        assert!(out[1].starts_with("alert:"));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn close_notify_during_the_handshake_without_data_goes_at_once() {
        let mut q = OutQueue::default();
        q.push_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        let out = drain(&mut q);
        assert_eq!(out.len(), 1);
        assert!(out[0].starts_with("alert:"));
    }

    #[test]
    fn app_data_is_split_and_coalesced_to_the_fragment_size() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(&[b'x'; 10]);
        q.push_app(&[b'y'; 3]);
        let mut lens = Vec::new();
        while let Some(OutItem::Record { data, .. }) = q.pop(4) {
            lens.push(data.len());
        }
        // Consecutive writes share one buffer, so records are cut across write boundaries.
        assert_eq!(lens, [4, 4, 4, 1]);
        assert_eq!(q.app_bytes(), 0);
    }

    #[test]
    fn handshake_messages_coalesce_into_one_record() {
        let mut q = OutQueue::default();
        q.push_handshake(b"ee".to_vec());
        q.push_handshake(b"cert".to_vec());
        q.push_ccs();
        assert_eq!(drain(&mut q), ["handshake:eecert", "change_cipher_spec:\u{1}"]);
    }
}
