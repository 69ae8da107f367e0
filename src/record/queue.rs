//! The priority outgoing queue (DESIGN.md). Items wait as plaintext with a class and are
//! encrypted when `write_tls` drains them, under the write state current for that item:
//!
//! 1. a fatal alert jumps ahead of everything not yet encrypted, and nothing follows it;
//! 2. handshake messages, CCS and warning alerts go before application data of the same epoch;
//! 3. application data waits until the handshake opens the application write state;
//! 4. a key change is a barrier: items queued before it use the old keys, after it the new.
//!
//! `close_notify` is queued in order behind application data already written (it means "I
//! have finished sending"), so a graceful close never drops data the application wrote.

use std::collections::VecDeque;

use super::WriteState;
use crate::codec::{AlertDescription, AlertLevel, Codec, ContentType};
use crate::msgs::AlertMessage;

/// What the queue hands to the encryptor next.
#[derive(Debug)]
pub(crate) enum OutItem {
    /// One record's worth of plaintext.
    Record { typ: ContentType, data: Vec<u8> },
    /// Switch to this write state before encrypting anything further.
    KeyChange(Box<WriteState>),
}

/// Everything queued under one write state.
#[derive(Debug, Default)]
struct Epoch {
    /// Handshake messages, CCS and non-fatal alerts, in order.
    control: VecDeque<(ContentType, Vec<u8>)>,
    app: VecDeque<Vec<u8>>,
    /// The state that takes over once this epoch's items are out.
    then: Option<Box<WriteState>>,
}

#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    fatal: Option<AlertMessage>,
    /// Set once the fatal alert has been handed out: nothing follows it.
    dead: bool,
    epochs: VecDeque<Epoch>,
    /// Application data written before the handshake opened the application write state.
    blocked_app: VecDeque<Vec<u8>>,
    app_open: bool,
    app_bytes: usize,
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
    /// already written; other warnings go with the control messages.
    pub fn push_alert(&mut self, level: AlertLevel, description: AlertDescription) {
        let msg = AlertMessage { level, description };
        if level == AlertLevel::Fatal {
            if self.fatal.is_none() && !self.dead {
                self.fatal = Some(msg);
            }
        } else if description == AlertDescription::CloseNotify && self.app_open {
            let mut tagged = Vec::with_capacity(3);
            tagged.push(CLOSE_TAG);
            msg.encode(&mut tagged);
            self.tail().app.push_back(tagged);
        } else {
            self.tail().control.push_back((ContentType::Alert, msg.to_vec()));
        }
    }

    /// Queues application data (rule 3: held back until [`OutQueue::open_app`]).
    pub fn push_app(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        self.app_bytes += data.len();
        let mut tagged = Vec::with_capacity(data.len() + 1);
        tagged.push(DATA_TAG);
        tagged.extend_from_slice(&data);
        if self.app_open {
            self.tail().app.push_back(tagged);
        } else {
            self.blocked_app.push_back(tagged);
        }
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

    /// Rule 4: everything queued after this uses `state`.
    pub fn push_key_change(&mut self, state: WriteState) {
        self.tail().then = Some(Box::new(state));
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

    /// Application bytes queued but not yet encrypted (for the buffered-plaintext cap).
    pub fn app_bytes(&self) -> usize {
        self.app_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.fatal.is_none()
            && self
                .epochs
                .iter()
                .all(|e| e.control.is_empty() && e.app.is_empty() && e.then.is_none())
    }

    /// Next thing to encrypt. Consecutive handshake messages are coalesced, and large items split,
    /// so each `Record` carries at most `max_fragment` bytes.
    pub fn pop(&mut self, max_fragment: usize) -> Option<OutItem> {
        if let Some(alert) = self.fatal.take() {
            self.dead = true;
            self.epochs.clear();
            self.blocked_app.clear();
            self.app_bytes = 0;
            return Some(OutItem::Record {
                typ: ContentType::Alert,
                data: alert.to_vec(),
            });
        }
        if self.dead {
            return None;
        }
        loop {
            let epoch = self.epochs.front_mut()?;
            if let Some((typ, mut data)) = epoch.control.pop_front() {
                if data.len() > max_fragment {
                    let rest = data.split_off(max_fragment);
                    epoch.control.push_front((typ, rest));
                } else if typ == ContentType::Handshake {
                    while let Some((ContentType::Handshake, next)) = epoch.control.front() {
                        if data.len() + next.len() > max_fragment {
                            break;
                        }
                        if let Some((_, next)) = epoch.control.pop_front() {
                            data.extend_from_slice(&next);
                        }
                    }
                }
                return Some(OutItem::Record { typ, data });
            }
            if let Some(item) = epoch.app.pop_front() {
                return Some(Self::app_record(epoch, &mut self.app_bytes, item, max_fragment));
            }
            let then = epoch.then.take();
            self.epochs.pop_front();
            if let Some(state) = then {
                return Some(OutItem::KeyChange(state));
            }
        }
    }

    fn app_record(epoch: &mut Epoch, app_bytes: &mut usize, mut item: Vec<u8>, max: usize) -> OutItem {
        if item.first() == Some(&CLOSE_TAG) {
            item.remove(0);
            return OutItem::Record {
                typ: ContentType::Alert,
                data: item,
            };
        }
        // Strip the tag; split or coalesce to one record.
        let mut data = if item.len() - 1 > max {
            let rest = item.split_off(1 + max);
            let mut tagged = Vec::with_capacity(rest.len() + 1);
            tagged.push(DATA_TAG);
            tagged.extend_from_slice(&rest);
            epoch.app.push_front(tagged);
            item.split_off(1)
        } else {
            item.split_off(1)
        };
        while let Some(next) = epoch.app.front() {
            if next.first() != Some(&DATA_TAG) || data.len() + next.len() - 1 > max {
                break;
            }
            if let Some(next) = epoch.app.pop_front() {
                data.extend_from_slice(&next[1..]);
            }
        }
        *app_bytes -= data.len();
        OutItem::Record {
            typ: ContentType::ApplicationData,
            data,
        }
    }
}

/// Application-queue entries carry a one-byte tag so close_notify can sit in order among data.
const DATA_TAG: u8 = 0;
const CLOSE_TAG: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut OutQueue) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(item) = q.pop(16384) {
            out.push(match item {
                OutItem::Record { typ, data } => format!("{}:{}", typ, String::from_utf8_lossy(&data)),
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
        q.push_app(b"data".to_vec());
        q.push_handshake(b"hs".to_vec());
        q.push_alert(AlertLevel::Fatal, AlertDescription::DecodeError);
        let out = q.pop(100).unwrap();
        assert!(matches!(out, OutItem::Record { typ: ContentType::Alert, ref data } if data == &[2, 50]));
        assert!(q.pop(100).is_none());
        q.push_handshake(b"late".to_vec());
        assert!(q.pop(100).is_none(), "nothing is sent after a fatal alert");
    }

    #[test]
    fn rule2_handshake_before_app_data_of_same_epoch() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(b"a1".to_vec());
        q.push_handshake(b"nst".to_vec());
        assert_eq!(drain(&mut q), ["handshake:nst", "application_data:a1"]);
    }

    #[test]
    fn rule3_app_data_waits_for_application_keys() {
        let mut q = OutQueue::default();
        q.push_app(b"early".to_vec());
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
        q.push_app(b"old".to_vec());
        q.push_handshake(b"keyupdate".to_vec());
        q.push_key_change(ks());
        q.push_app(b"new".to_vec());
        q.push_handshake(b"nst".to_vec());
        assert_eq!(
            drain(&mut q),
            [
                "handshake:keyupdate",
                "application_data:old",
                "keychange",
                "handshake:nst",
                "application_data:new"
            ]
        );
    }

    #[test]
    fn close_notify_follows_written_data() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(b"bye".to_vec());
        q.push_alert(AlertLevel::Warning, AlertDescription::CloseNotify);
        let out = drain(&mut q);
        assert_eq!(out[0], "application_data:bye");
        assert!(out[1].starts_with("alert:"));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn app_data_is_split_and_coalesced_to_the_fragment_size() {
        let mut q = OutQueue::default();
        q.open_app();
        q.push_app(vec![b'x'; 10]);
        q.push_app(vec![b'y'; 3]);
        let mut lens = Vec::new();
        while let Some(OutItem::Record { data, .. }) = q.pop(4) {
            lens.push(data.len());
        }
        assert_eq!(lens, [4, 4, 2, 3]);
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
